package automation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"depot/mft"
)

// maxResponse is how much of a receiver's answer is read.
const maxResponse = 64 << 10

// newClient returns the client of outbound requests: bounded in time, and
// following redirects only within the same host.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 15 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 || req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// payload is the body of a webhook delivery.
func payload(id string, ev mft.Event) string {
	data, _ := json.Marshal(map[string]any{"id": id, "event": ev.Event, "time": ev.Time.UTC().Format(time.RFC3339Nano), "data": ev})
	return string(data)
}

// Sign returns the X-Depot-Signature of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends one signed POST and returns the status code.
func (e *Engine) post(ctx context.Context, url, secret, event, id string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Depot-Webhook/1")
	req.Header.Set("X-Depot-Event", event)
	req.Header.Set("X-Depot-Delivery", id)
	if secret != "" {
		req.Header.Set("X-Depot-Signature", Sign(secret, body))
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// deliver makes one attempt of a delivery; a failure is retried with
// exponential backoff until WebhookRetryFor after it was created.
func (e *Engine) deliver(d *mft.Delivery) {
	ctx := e.ctx
	if cur, err := e.Store.FindDelivery(ctx, d.ID); err != nil || cur.Node != d.Node || cur.Status != "queued" {
		return // deleted with its webhook, or another node's now
	}
	w, err := e.Store.FindWebhook(ctx, d.Webhook)
	if err != nil { // the webhook was deleted
		return
	}
	secret, err := e.open(w.Secret)
	start := time.Now()
	code := 0
	if err == nil {
		code, err = e.post(ctx, w.URL, secret, d.Event, d.ID, []byte(d.Payload))
	}
	if ctx.Err() != nil {
		return // shutting down: still queued, sent after the next start
	}
	took := time.Since(start)
	if e.ObserveWebhook != nil {
		e.ObserveWebhook(err == nil, took)
	}
	at := mft.Attempt{Time: e.Now().UTC(), StatusCode: code, DurationMS: took.Milliseconds()}
	now := e.Now()
	switch {
	case err == nil:
		d.Status, d.DoneAt = "delivered", &now
	default:
		at.Error = err.Error()
		next := now.Add(e.WebhookRetryBase << min(len(d.Attempts), 20))
		if next.Sub(d.CreatedAt) > WebhookRetryFor {
			d.Status, d.DoneAt = "failed", &now
		} else {
			d.NotBefore = next
		}
	}
	d.Attempts = append(d.Attempts, at)
	if perr := e.Store.PutDelivery(ctx, d); perr != nil {
		if !e.lost(perr, "webhook delivery", d.ID) {
			e.Logger.Error("webhook delivery not stored", "delivery", d.ID, "err", perr)
		}
		return
	}
	if d.Status == "queued" {
		e.mu.Lock()
		e.deliveries.push(d)
		e.mu.Unlock()
	} else if d.Status == "failed" {
		e.Logger.Warn("webhook delivery given up", "webhook", w.ID, "delivery", d.ID, "err", err)
	}
}

// webhook is the webhook action: it POSTs the run and its file, signed
// like webhook deliveries. A non-2xx answer fails the step.
func (x *step) webhook(ctx context.Context, act mft.Action, file string) error {
	secret, err := x.e.open(act.Secret)
	if err != nil {
		return err
	}
	data := map[string]any{"automation": x.a.ID, "run": x.r.ID, "trigger": x.r.Trigger, "attempt": x.r.Attempt}
	if file != "" {
		f := map[string]any{"path": file}
		if fi, err := x.e.Files.Stat(ctx, x.actor, file); err == nil {
			f["size"], f["modified_at"] = fi.Size, fi.ModifiedAt
		}
		data["file"] = f
	}
	if x.r.Event != nil {
		data["event"] = x.r.Event
	}
	id := x.r.ID + "-" + fmt.Sprint(len(x.r.Steps))
	body, _ := json.Marshal(map[string]any{"id": id, "event": "automation.webhook", "time": x.now.UTC().Format(time.RFC3339Nano), "data": data})
	_, err = x.e.post(ctx, act.URL, secret, "automation.webhook", id, body)
	if err != nil && errors.Is(err, context.Canceled) {
		return errors.New("stopped")
	}
	return err
}

package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"depot/mft"
)

// maxRecorded is how much of an http action's answer the run keeps.
const maxRecorded = 1 << 10

// httpCall is the http action: it calls an application's own API the way
// it expects (method, headers, a body made from a template or the file),
// and fails the step unless the answer's status is one expected. The
// status and the first KiB of the answer are recorded in the run.
func (x *step) httpCall(ctx context.Context, act mft.Action, file string) error {
	timeout := 30 * time.Second
	if d, err := time.ParseDuration(act.Timeout); err == nil {
		timeout = d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	headers := http.Header{}
	for k, v := range act.Headers {
		plain, err := x.e.open(v)
		if err != nil {
			return err
		}
		headers.Set(k, plain)
	}
	jsonBody := headers.Get("Content-Type") == "" || strings.Contains(headers.Get("Content-Type"), "json")
	var body io.Reader
	switch act.BodyFrom {
	case "file", "multipart":
		if file == "" {
			return errNoFile
		}
		src, _, err := x.e.Files.Open(ctx, x.actor, file)
		if err != nil {
			return err
		}
		defer src.Close()
		if act.BodyFrom == "file" {
			body = src
			if headers.Get("Content-Type") == "" {
				headers.Set("Content-Type", "application/octet-stream")
			}
			break
		}
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		headers.Set("Content-Type", mw.FormDataContentType())
		data := x.template(act.Body, file, true)
		go func() {
			err := func() error {
				if act.Body != "" {
					if err := mw.WriteField("data", data); err != nil {
						return err
					}
				}
				part, err := mw.CreateFormFile("file", path.Base(file))
				if err != nil {
					return err
				}
				if _, err := io.Copy(part, src); err != nil {
					return err
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		defer pr.Close()
		body = pr
	default:
		if act.Body != "" {
			body = strings.NewReader(x.template(act.Body, file, jsonBody))
			if headers.Get("Content-Type") == "" {
				headers.Set("Content-Type", "application/json")
			}
		}
	}
	target := x.template(act.URL, file, false)
	req, err := http.NewRequestWithContext(ctx, act.Method, target, body)
	if err != nil {
		return fmt.Errorf("url: %v", err)
	}
	req.Header = headers
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "Depot-Automation/1")
	}
	resp, err := x.e.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s did not answer within %s", mft.HiddenURL(target), timeout)
		}
		return fmt.Errorf("%s: %v", mft.HiddenURL(target), err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, maxRecorded))
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	x.rec.Status, x.rec.Response = resp.StatusCode, strings.ToValidUTF8(string(head), "?")
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if len(act.Expect) > 0 {
		ok = slices.Contains(act.Expect, resp.StatusCode)
	}
	if !ok {
		return fmt.Errorf("%s answered %s", mft.HiddenURL(target), resp.Status)
	}
	return nil
}

// template fills a URL or body template: the path placeholders, plus
// {PATH} (the file's storage path), {SIZE}, {RUN} and {AUTOMATION}, and
// the triggering event's {EVENT}, {EVENT_PATH}, {MESSAGE} and {ACTOR}. In a
// JSON body the values are escaped as JSON string contents; in a URL
// they are path-escaped.
func (x *step) template(t, file string, jsonEscape bool) string {
	size := ""
	if file != "" && strings.Contains(t, "{SIZE}") { // a stat only for a template that asks
		if fi, err := x.e.Files.Stat(context.Background(), x.actor, file); err == nil {
			size = fmt.Sprint(fi.Size)
		}
	}
	pairs := placeholders(file, x.user, x.bucket, x.now)
	pairs = append(pairs, "{PATH}", file, "{SIZE}", size, "{RUN}", x.r.ID, "{AUTOMATION}", x.a.ID)
	if ev := x.r.Event; ev != nil { // the event's own fields, for events of no file
		pairs = append(pairs, "{EVENT}", ev.Event, "{EVENT_PATH}", ev.Path, "{MESSAGE}", ev.Message, "{ACTOR}", ev.Actor)
	} else {
		pairs = append(pairs, "{EVENT}", "", "{EVENT_PATH}", "", "{MESSAGE}", "", "{ACTOR}", "")
	}
	for i := 1; i < len(pairs); i += 2 {
		switch {
		case jsonEscape:
			b, _ := json.Marshal(pairs[i])
			pairs[i] = string(b[1 : len(b)-1])
		case !utf8.ValidString(pairs[i]):
			pairs[i] = strings.ToValidUTF8(pairs[i], "")
		}
	}
	return strings.NewReplacer(pairs...).Replace(t)
}

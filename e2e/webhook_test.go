package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is an httptest webhook receiver that fails its first n
// requests with 500.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	sigs   []string
	fail   int
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.bodies = append(rc.bodies, string(body))
		rc.sigs = append(rc.sigs, r.Header.Get("X-Depot-Signature"))
		if len(rc.bodies) <= rc.fail {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func TestWebhooks_SignedRetriedAndInactive(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"hooked@example.com"}}`).User
	flaky := newReceiver(t, 2)
	off := newReceiver(t, 0)
	secret := "whsec-0123456789abcdef"
	r := ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+flaky.URL+`","events":["file.uploaded"],"secret":"`+secret+`"}}`)
	want(t, r, 201)
	if strings.Contains(r.body, secret) || !strings.Contains(r.body, `"has_secret":true`) {
		t.Fatalf("webhook view: %s", r.body)
	}
	var wh struct {
		Webhook struct{ ID string } `json:"webhook"`
	}
	r.json(t, &wh)
	want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+off.URL+`","events":["*"],"active":false}}`), 201)
	for _, body := range []string{
		`{"webhook":{"url":"ftp://x","events":["*"]}}`,
		`{"webhook":{"url":"http://x"}}`,
		`{"webhook":{"url":"http://x","events":["nope"]}}`,
		`{"webhook":{"url":"http://x","events":["*"],"secret":"short"}}`,
	} {
		want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, body), 422)
	}

	want(t, ts.do(t, "PUT", "/api/files/content?path=/hello.txt", u.APIKey, "hi"), 201)
	for flaky.count() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	flaky.mu.Lock()
	body, sig := flaky.bodies[2], flaky.sigs[2]
	same := flaky.bodies[0] == body
	flaky.mu.Unlock()
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	if sig != "sha256="+hex.EncodeToString(m.Sum(nil)) || !same {
		t.Fatalf("signature %q does not verify, or the retried body changed", sig)
	}
	var ev struct {
		ID, Event string
		Data      struct{ Path, Actor string }
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.Event != "file.uploaded" || ev.Data.Path != "/users/"+u.ID+"/hello.txt" || ev.ID == "" {
		t.Fatalf("payload %s", body)
	}
	// The deliveries record the attempts.
	var ds []struct {
		Delivery struct {
			ID       string
			Status   string
			Attempts []struct {
				StatusCode int `json:"status_code"`
			}
		} `json:"delivery"`
	}
	for {
		r = ts.do(t, "GET", "/admin/webhooks/"+wh.Webhook.ID+"/deliveries", adminKey, "")
		want(t, r, 200)
		r.json(t, &ds)
		if len(ds) == 1 && ds[0].Delivery.Status == "delivered" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a := ds[0].Delivery.Attempts; len(a) != 3 || a[0].StatusCode != 500 || a[2].StatusCode != 204 {
		t.Fatalf("attempts %+v", a)
	}
	if off.count() != 0 {
		t.Fatalf("the inactive webhook got %d deliveries", off.count())
	}
	// Redeliver sends it once more.
	want(t, ts.do(t, "POST", "/admin/webhooks/"+wh.Webhook.ID+"/deliveries/"+ds[0].Delivery.ID+"/redeliver", adminKey, ""), 202)
	for flaky.count() < 4 {
		time.Sleep(10 * time.Millisecond)
	}
}

// Outbound webhooks do not follow a redirect to another host, and the
// other host gets nothing.
func TestWebhooks_NoRedirectToOtherHost(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"r@example.com"}}`).User
	elsewhere := newReceiver(t, 0)
	var hits atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, elsewhere.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	r := ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+redirector.URL+`","events":["file.uploaded"]}}`)
	want(t, r, 201)
	var wh struct {
		Webhook struct{ ID string } `json:"webhook"`
	}
	r.json(t, &wh)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/x.txt", u.APIKey, "x"), 201)
	for {
		r = ts.do(t, "GET", "/admin/webhooks/"+wh.Webhook.ID+"/deliveries", adminKey, "")
		if strings.Contains(r.body, `"status_code":307`) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if elsewhere.count() != 0 {
		t.Fatalf("the redirect was followed to another host")
	}
}

// A webhook scoped to a bucket gets only that bucket's events.
func TestWebhooks_BucketScope(t *testing.T) {
	ts := MustOpenServer(t)
	bid := ts.createBucket(t, `{"bucket":{"name":"Scoped"}}`).Bucket.ID
	r := ts.do(t, "POST", "/admin/buckets/"+bid+"/users", adminKey, `{"user":{"username":"scoped-user"}}`)
	want(t, r, 201)
	var bu userBody
	r.json(t, &bu)
	home := ts.createUser(t, `{"user":{"email":"home@example.com"}}`).User
	rc := newReceiver(t, 0)
	want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+rc.URL+`","events":["file.uploaded"],"bucket":"`+bid+`"}}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/home.txt", home.APIKey, "h"), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/bucket.txt", bu.User.APIKey, "b"), 201)
	for rc.count() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let a wrong delivery show up
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bodies) != 1 || !strings.Contains(rc.bodies[0], "bucket.txt") || !strings.Contains(rc.bodies[0], bid) {
		t.Fatalf("deliveries: %v", rc.bodies)
	}
}

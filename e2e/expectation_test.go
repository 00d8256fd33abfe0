package e2e

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"depot/app"
	"depot/mft"
)

// TestExpectations_MetLateMissing: files expected on weekdays between
// 10:00 and 11:00 UTC, driven by the engine's clock: one on time, one
// late after its window was missed, one missing two days in a row.
func TestExpectations_MetLateMissing(t *testing.T) {
	var now atomic.Pointer[time.Time]
	set := func(s string) {
		tm, _ := time.Parse(time.RFC3339, s)
		now.Store(&tm)
	}
	set("2026-12-09T10:05:00Z") // a Wednesday
	ts := MustOpenServer(t, func(a *app.App) { a.Engine.Now = func() time.Time { return *now.Load() } })
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/acme"}`), 201)
	create := func(body string) string {
		r := ts.do(t, "POST", "/admin/expectations", adminKey, body)
		want(t, r, 201)
		return ts.fieldsOf(t, r, "expectation")["id"].(string)
	}
	daily := create(`{"expectation":{"name":"daily orders","path":"/acme","pattern":"orders*.csv","from":"10:00","to":"11:00"}}`)
	pair := create(`{"expectation":{"name":"two invoices","path":"/acme","pattern":"inv*.pdf","from":"10:00","to":"11:00","min_count":2,"min_size":5}}`)

	want(t, ts.put(t, adminKey, "/acme/orders-1.csv", "1"), 201)    // on time
	want(t, ts.put(t, adminKey, "/acme/inv-tiny.pdf", "123"), 201)  // too small to count
	want(t, ts.put(t, adminKey, "/acme/inv-1.pdf", "1234567"), 201) // one of two
	want(t, ts.put(t, adminKey, "/acme/other.txt", "x"), 201)       // matches neither
	set("2026-12-09T11:01:00Z")
	ts.app.Engine.CheckExpectations(t.Context())
	set("2026-12-09T11:30:00Z")
	want(t, ts.put(t, adminKey, "/acme/inv-2.pdf", "1234567"), 201) // late
	set("2026-12-10T11:01:00Z")                                     // Thursday: nothing came
	ts.app.Engine.CheckExpectations(t.Context())
	ts.app.Engine.CheckExpectations(t.Context()) // a second check changes nothing

	history := func(id string) (string, float64) {
		r := ts.do(t, "GET", "/admin/expectations/"+id, adminKey, "")
		want(t, r, 200)
		var x struct {
			Expectation struct {
				History    []mft.Window `json:"history"`
				OnTimeRate float64      `json:"on_time_rate"`
			}
		}
		r.json(t, &x)
		var s []string
		for _, w := range x.Expectation.History {
			s = append(s, w.Start.Format("01-02")+" "+w.Status+" "+strings.Join(w.Files, "+"))
		}
		return strings.Join(s, "; "), x.Expectation.OnTimeRate
	}
	if h, rate := history(daily); h != "12-10 missing ; 12-09 on_time /acme/orders-1.csv" || rate != 0.5 {
		t.Fatalf("daily: %q %v", h, rate)
	}
	if h, rate := history(pair); h != "12-10 missing ; 12-09 late /acme/inv-1.pdf+/acme/inv-2.pdf" || rate != 0 {
		t.Fatalf("pair: %q %v", h, rate)
	}
	var got []string
	for _, ev := range ts.events(t) {
		if strings.HasPrefix(ev.Event, "expectation.") && !strings.HasSuffix(ev.Event, "created") {
			got = append(got, ev.Event+" "+ev.Target)
		}
	}
	wantEvents := []string{"expectation.met " + daily, "expectation.missed " + pair, "expectation.late " + pair,
		"expectation.missed " + daily, "expectation.missed " + pair}
	if strings.Join(got, ",") != strings.Join(wantEvents, ",") {
		t.Fatalf("events:\n%v\nwant\n%v", got, wantEvents)
	}
	// The administrators' overview lists them with their last window and rate.
	ts.createUser(t, `{"user":{"email":"boss@example.com","role":"admin","password":"correct-horse-battery"}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "boss@example.com", "correct-horse-battery")
	page := b.get(t, "/web/admin")
	for _, s := range []string{"daily orders", "/acme/orders*.csv", "mon tue wed thu fri 10:00–11:00", "2026-12-10: missing", "50 %"} {
		if !strings.Contains(page.body, s) {
			t.Fatalf("the overview lacks %q", s)
		}
	}
	// Bad input.
	for _, body := range []string{`{"expectation":{"name":"x","path":"/acme","pattern":"*","from":"11:00","to":"10:00"}}`,
		`{"expectation":{"name":"x","path":"/acme","pattern":"*","from":"10:00","to":"11:00","days":["someday"]}}`,
		`{"expectation":{"name":"x","path":"/acme","pattern":"*","from":"10:00","to":"11:00","timezone":"Mars/Olympus"}}`,
		`{"expectation":{"name":"x","path":"acme","pattern":"*","from":"10:00","to":"11:00"}}`,
		`{"expectation":{"name":"x","path":"/acme","pattern":"a/b","from":"10:00","to":"11:00"}}`} {
		want(t, ts.do(t, "POST", "/admin/expectations", adminKey, body), 422)
	}
	want(t, ts.do(t, "PATCH", "/admin/expectations/"+daily, adminKey, `{"expectation":{"min_count":3}}`), 200)
	if h, _ := history(daily); !strings.Contains(h, "on_time") {
		t.Fatalf("a change lost the history: %q", h)
	}
	want(t, ts.do(t, "DELETE", "/admin/expectations/"+daily, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/expectations/"+daily, adminKey, ""), 404)
}

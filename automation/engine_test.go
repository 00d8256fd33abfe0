package automation_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"depot/automation"
	"depot/core"
	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

// create stores an automation and has the engine load it.
func create(t *testing.T, a *core.Services, au *mft.Automation) *mft.Automation {
	t.Helper()
	au.Enabled = true
	if err := a.Automations.CreateAutomation(context.Background(), au); err != nil {
		t.Fatal(err)
	}
	if err := a.Engine.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return au
}

// finished waits until automation id has n finished runs and returns all
// its runs, newest first.
func finished(t *testing.T, a *core.Services, id string, n int) []*mft.Run {
	t.Helper()
	for {
		var all []*mft.Run
		page := mft.Page{Limit: 1000}
		for {
			runs, more, err := a.Automations.FindRuns(context.Background(), id, page)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, runs...)
			if !more {
				break
			}
			page.After = runs[len(runs)-1].ID
		}
		done := 0
		for _, r := range all {
			if r.Status == mft.RunSucceeded || r.Status == mft.RunFailed {
				done++
			}
		}
		if done >= n {
			return all
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func upload(t *testing.T, a *core.Services, u *mft.User, p, body string) {
	t.Helper()
	if _, err := a.Files.Upload(context.Background(), coretest.Actor(u), p, strings.NewReader(body), files.UploadOptions{Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
}

// An event automation runs on the files its conditions match, and only
// those: an uploaded CSV below an in/ folder is moved to a dated archive.
func TestEventAutomation_MovesMatchingFiles(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.AddUser(t, a, "joe")
	au := create(t, a, &mft.Automation{Name: "archive csv", Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
		Conditions: []mft.Condition{{Type: "name", Pattern: "*.csv"}, {Type: "path", Pattern: "/users/**/in/*"}},
		Actions:    []mft.Action{{Type: "move", To: "/archive/{YYYY}/"}}})
	if _, err := a.Files.Mkdir(context.Background(), coretest.Actor(joe), "/in"); err != nil {
		t.Fatal(err)
	}
	upload(t, a, joe, "/in/ledger.csv", "a,b\n")
	upload(t, a, joe, "/in/notes.txt", "not matched")
	upload(t, a, joe, "/ledger.csv", "not in in/")

	runs := finished(t, a, au.ID, 1)
	if len(runs) != 1 || runs[0].Status != mft.RunSucceeded {
		t.Fatalf("runs %+v, want one that succeeded", runs)
	}
	year := time.Now().UTC().Format("2006")
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	if _, err := a.Files.Stat(context.Background(), admin, "/archive/"+year+"/ledger.csv"); err != nil {
		t.Fatalf("matched file not archived: %v", err)
	}
	for _, p := range []string{"/in/notes.txt", "/ledger.csv"} {
		if _, err := a.Files.Stat(context.Background(), coretest.Actor(joe), p); err != nil {
			t.Fatalf("%s (not matched) was touched: %v", p, err)
		}
	}
}

// A run whose action fails is retried with backoff and recorded as
// failed with the reason once its attempts are spent.
func TestRun_RetriesThenFails(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.AddUser(t, a, "joe")
	au := create(t, a, &mft.Automation{Name: "bad hook", Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
		Actions: []mft.Action{{Type: "webhook", URL: "http://127.0.0.1:9/unreachable"}}, Retry: mft.Retry{Attempts: 2}})
	upload(t, a, joe, "/x.txt", "x")
	runs := finished(t, a, au.ID, 1)
	r := runs[0]
	if r.Status != mft.RunFailed || r.Attempt != 2 || r.Error == "" {
		t.Fatalf("run %+v, want failed after 2 attempts with the reason", r)
	}
}

// A webhook receives every event it subscribes to, signed with its
// secret, with the event's audit id in data.id.
func TestWebhook_SignedDelivery(t *testing.T) {
	a := coretest.Start(t, nil)
	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer hook.Close()
	w := &mft.Webhook{URL: hook.URL, Events: []string{mft.EventFileUploaded}, Secret: a.Sealer.Seal("a-long-random-secret"), Active: true}
	if err := a.Automations.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := a.Engine.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	joe := coretest.AddUser(t, a, "joe")
	upload(t, a, joe, "/report.csv", "r")
	r, body := <-got, <-bodies
	if r.Header.Get("X-Depot-Event") != mft.EventFileUploaded {
		t.Fatalf("event header %q", r.Header.Get("X-Depot-Event"))
	}
	if sig := r.Header.Get("X-Depot-Signature"); sig != automation.Sign("a-long-random-secret", body) {
		t.Fatalf("signature %q does not match the body", sig)
	}
	var payload struct {
		Data mft.Event `json:"data"`
	}
	if err := json.Unmarshal(body, &payload); err != nil || payload.Data.Path != "/users/joe/report.csv" || payload.Data.ID == "" {
		t.Fatalf("payload %s (%v)", body, err)
	}
	if evs := coretest.Events(t, a, mft.EventFileUploaded); len(evs) != 1 || evs[0].ID != payload.Data.ID {
		t.Fatalf("data.id %q is not the audit event's id (%+v)", payload.Data.ID, evs)
	}
}

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/internal/testpeer"
)

type runBody struct {
	Run struct {
		ID      string   `json:"id"`
		Status  string   `json:"status"`
		Trigger string   `json:"trigger"`
		Attempt int      `json:"attempt"`
		Files   []string `json:"files"`
		Error   string   `json:"error"`
		Steps   []struct {
			Action string `json:"action"`
			Input  string `json:"input"`
			Output string `json:"output"`
			Error  string `json:"error"`
			Bytes  int64  `json:"bytes"`
		} `json:"steps"`
	} `json:"run"`
}

// runs returns an automation's runs, newest first.
func (ts *testServer) runs(tb testing.TB, id string) []runBody {
	tb.Helper()
	r := ts.do(tb, "GET", "/admin/automations/"+id+"/runs", adminKey, "")
	want(tb, r, 200)
	var out []runBody
	r.json(tb, &out)
	return out
}

// waitRuns waits until n runs of the automation are finished and returns
// them.
func (ts *testServer) waitRuns(tb testing.TB, id string, n int) []runBody {
	tb.Helper()
	for {
		runs := ts.runs(tb, id)
		done := 0
		for _, r := range runs {
			if r.Run.Status == "succeeded" || r.Run.Status == "failed" {
				done++
			}
		}
		if done >= n {
			return runs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (ts *testServer) createAutomation(tb testing.TB, body string) string {
	tb.Helper()
	r := ts.do(tb, "POST", "/admin/automations", adminKey, body)
	want(tb, r, 201)
	var a struct {
		Automation struct {
			ID string `json:"id"`
		} `json:"automation"`
	}
	r.json(tb, &a)
	return a.Automation.ID
}

func TestAutomations_EventPGPThenMove(t *testing.T) {
	ts := MustOpenServer(t)
	home, pub := testpeer.GPG(t)
	u := ts.createUser(t, `{"user":{"email":"partner@example.com"}}`).User
	pubJSON, _ := json.Marshal(pub)
	id := ts.createAutomation(t, `{"automation":{"name":"encrypt csv","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"name","pattern":"*.csv"},{"type":"path","pattern":"/users/**/in/*"}],
		"actions":[{"type":"pgp_encrypt","public_key":`+string(pubJSON)+`},{"type":"move","to":"/archive/{USER}/{YYYY}/"}]}}`)

	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/in"}`), 201)
	data := strings.Repeat("id,amount\n1,100\n", 50000)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/report.csv", u.APIKey, data), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/notes.txt", u.APIKey, "not a csv"), 201)

	runs := ts.waitRuns(t, id, 1)
	r := runs[0].Run
	year := time.Now().UTC().Format("2006")
	wantOut := "/archive/" + u.ID + "/" + year + "/report.csv.pgp"
	if r.Status != "succeeded" || len(r.Steps) != 2 || r.Steps[0].Output != "/users/"+u.ID+"/in/report.csv.pgp" || r.Steps[1].Output != wantOut {
		t.Fatalf("run %+v", r)
	}
	// Real gpg decrypts what pgp_encrypt wrote to the original bytes.
	enc := filepath.Join(ts.dataDir, "files", wantOut)
	if out := testpeer.GPGDecrypt(t, home, enc); string(out) != data {
		t.Fatalf("decrypted %d bytes, want the %d uploaded", len(out), len(data))
	}
	// The original is gone (keep_original defaults to false); the .txt was
	// not touched and no run was made for it.
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "users", u.ID, "in", "report.csv")); !os.IsNotExist(err) {
		t.Fatalf("original still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "users", u.ID, "in", "notes.txt")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let a wrong run show up
	if runs := ts.runs(t, id); len(runs) != 1 {
		t.Fatalf("%d runs, want 1 (the automation's own output must not trigger it)", len(runs))
	}
	// automation.succeeded is published after the run is stored.
	for {
		ts.audit.Flush()
		if r2 := ts.do(t, "GET", "/admin/audit?event=automation.succeeded", adminKey, ""); strings.Contains(r2.body, id) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAutomations_ScheduleProcessesEachFileOnce(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"sched@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/outbox/sub"}`), 201)
	for _, p := range []string{"/outbox/a.txt", "/outbox/b.txt", "/outbox/sub/c.txt"} {
		want(t, ts.do(t, "PUT", "/api/files/content?path="+p, u.APIKey, "content of "+p), 201)
	}
	id := ts.createAutomation(t, `{"automation":{"name":"copy out","trigger":"schedule","schedule":"@every 1s",
		"source":{"path":"/users/`+u.ID+`/outbox","recursive":true},
		"actions":[{"type":"copy","to":"/sent/{BASENAME}-{YYYY}.{EXT}"}]}}`)
	runs := ts.waitRuns(t, id, 3)
	time.Sleep(2500 * time.Millisecond) // two more ticks
	runs = ts.runs(t, id)
	if len(runs) != 3 {
		t.Fatalf("%d runs after several ticks, want 3 (one per file)", len(runs))
	}
	year := time.Now().UTC().Format("2006")
	for _, n := range []string{"a", "b", "c"} {
		if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "sent", n+"-"+year+".txt")); err != nil {
			t.Fatal(err)
		}
	}
	// A changed file is new again.
	want(t, ts.do(t, "PUT", "/api/files/content?path=/outbox/a.txt", u.APIKey, "changed"), 201)
	ts.waitRuns(t, id, 4)
}

func TestAutomations_Validation(t *testing.T) {
	ts := MustOpenServer(t)
	for _, tc := range []struct{ body, want string }{
		{`{"automation":{"trigger":"manual","actions":[{"type":"delete"}]}}`, "name"},
		{`{"automation":{"name":"x","trigger":"sometimes","actions":[{"type":"delete"}]}}`, "trigger"},
		{`{"automation":{"name":"x","trigger":"schedule","schedule":"every day","actions":[{"type":"delete"}]}}`, "schedule"},
		{`{"automation":{"name":"x","trigger":"schedule","schedule":"0 2 * * *","timezone":"Mars/Olympus","actions":[{"type":"delete"}]}}`, "timezone"},
		{`{"automation":{"name":"x","trigger":"event","actions":[{"type":"delete"}]}}`, "events"},
		{`{"automation":{"name":"x","trigger":"event","events":["file.exploded"],"actions":[{"type":"delete"}]}}`, "file.exploded"},
		{`{"automation":{"name":"x","trigger":"manual","actions":[]}}`, "actions"},
		{`{"automation":{"name":"x","trigger":"manual","actions":[{"type":"teleport"}]}}`, "actions[0].type"},
		{`{"automation":{"name":"x","trigger":"manual","actions":[{"type":"move"}]}}`, "actions[0].to"},
		{`{"automation":{"name":"x","trigger":"manual","actions":[{"type":"webhook","url":"ftp://x"}]}}`, "actions[0].url"},
		{`{"automation":{"name":"x","trigger":"manual","actions":[{"type":"pgp_encrypt","public_key":"nope"}]}}`, "public_key"},
		{`{"automation":{"name":"x","trigger":"manual","conditions":[{"type":"mood"}],"actions":[{"type":"delete"}]}}`, "conditions[0].type"},
		{`{"automation":{"name":"x","trigger":"manual","conditions":[{"type":"size"}],"actions":[{"type":"delete"}]}}`, "conditions[0]"},
		{`{"automation":{"name":"x","trigger":"manual","conditions":[{"type":"age","older_than":"soon"}],"actions":[{"type":"delete"}]}}`, "older_than"},
		{`{"automation":{"name":"x","trigger":"manual","source":{"path":"../etc"},"actions":[{"type":"delete"}]}}`, "source.path"},
		{`{"automation":{"name":"x","trigger":"manual","retry":{"attempts":99},"actions":[{"type":"delete"}]}}`, "retry"},
		{`{"automation":{"name":"x","trigger":"manual","colour":"red","actions":[{"type":"delete"}]}}`, "colour"},
	} {
		r := ts.do(t, "POST", "/admin/automations", adminKey, tc.body)
		want(t, r, 422)
		if msg := r.errors(t)[0]; !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %q does not name %s", tc.body, msg, tc.want)
		}
	}
	r := ts.do(t, "GET", "/admin/automations", adminKey, "")
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("refused automations were stored: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/admin/automations/au_nope/run", adminKey, ""), 404)

	// Secrets are write-only and survive an update that leaves them "(set)".
	id := ts.createAutomation(t, `{"automation":{"name":"hook","trigger":"manual","actions":[{"type":"webhook","url":"http://127.0.0.1:1/x","secret":"s3cr3t-value-123"}]}}`)
	r = ts.do(t, "GET", "/admin/automations/"+id, adminKey, "")
	if strings.Contains(r.body, "s3cr3t") || !strings.Contains(r.body, `"secret":"(set)"`) {
		t.Fatalf("secret shown: %s", r.body)
	}
	r = ts.do(t, "PUT", "/admin/automations/"+id, adminKey, `{"automation":{"name":"hook 2","trigger":"manual","enabled":false,"actions":[{"type":"webhook","url":"http://127.0.0.1:1/x","secret":"(set)"}]}}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"secret":"(set)"`) || !strings.Contains(r.body, `"enabled":false`) {
		t.Fatalf("update: %s", r.body)
	}
	if strings.Contains(ts.rawDB(t), "s3cr3t-value-123") {
		t.Fatal("the secret is stored in clear in the database")
	}
}

// pgp_decrypt opens what gpg encrypted, with the private key and its
// passphrase (both sealed at rest).
func TestAutomations_PGPDecrypt(t *testing.T) {
	ts := MustOpenServer(t)
	home, _ := testpeer.GPG(t)
	out, err := exec.Command("gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
		"--armor", "--export-secret-keys", "pgp@example.com").Output()
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := json.Marshal(string(out))
	u := ts.createUser(t, `{"user":{"email":"dec@example.com"}}`).User
	plain := strings.Repeat("secret ledger line\n", 20000)
	src := filepath.Join(t.TempDir(), "ledger.txt")
	os.WriteFile(src, []byte(plain), 0o600)
	enc, err := exec.Command("gpg", "--homedir", home, "--batch", "--trust-model", "always", "-r", "pgp@example.com", "-o", "-", "--encrypt", src).Output()
	if err != nil {
		t.Fatal(err)
	}
	id := ts.createAutomation(t, `{"automation":{"name":"decrypt","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"name","pattern":"*.gpg"}],
		"actions":[{"type":"pgp_decrypt","private_key":`+string(priv)+`,"passphrase":""}]}}`)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/ledger.txt.gpg", u.APIKey, string(enc)), 201)
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" || r.Steps[0].Output != "/users/"+u.ID+"/ledger.txt" {
		t.Fatalf("run %+v", r)
	}
	got := ts.do(t, "GET", "/api/files/content?path=/ledger.txt", u.APIKey, "")
	if got.status != 200 || got.body != plain {
		t.Fatalf("decrypted %d bytes (%d), want %d", len(got.body), got.status, len(plain))
	}
	if strings.Contains(ts.rawDB(t), "PGP PRIVATE KEY") {
		t.Fatal("the private key is stored in clear")
	}
}

// A failing run is retried with backoff up to retry.attempts; the run
// records each attempt's outcome and fires automation.failed at the end.
func TestAutomations_RetryThenFail(t *testing.T) {
	ts := MustOpenServer(t)
	flaky := newReceiver(t, 2)
	id := ts.createAutomation(t, `{"automation":{"name":"ping","trigger":"manual","retry":{"attempts":3},
		"actions":[{"type":"webhook","url":"`+flaky.URL+`","secret":"0123456789abcdef"}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, ""), 202)
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" || r.Attempt != 3 || flaky.count() != 3 {
		t.Fatalf("run %+v after %d requests", r, flaky.count())
	}
	dead := newReceiver(t, 100)
	id = ts.createAutomation(t, `{"automation":{"name":"dead","trigger":"manual","retry":{"attempts":2},
		"actions":[{"type":"webhook","url":"`+dead.URL+`"}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, ""), 202)
	r = ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "failed" || r.Attempt != 2 || dead.count() != 2 || !strings.Contains(r.Steps[0].Error, "500") {
		t.Fatalf("run %+v", r)
	}
	// The event is published after the run is stored as failed: wait for
	// it to reach the audit log.
	for {
		ts.audit.Flush()
		if a := ts.do(t, "GET", "/admin/audit?event=automation.failed", adminKey, ""); strings.Contains(a.body, id) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

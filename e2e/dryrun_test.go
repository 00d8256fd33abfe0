package e2e

import (
	"strings"
	"testing"
	"time"
)

type dryRunBody struct {
	DryRun struct {
		File       string `json:"file"`
		Runs       bool   `json:"runs"`
		Conditions []struct {
			Type   string `json:"type"`
			Holds  bool   `json:"holds"`
			Passes bool   `json:"passes"`
		} `json:"conditions"`
		Actions []struct {
			Type   string   `json:"type"`
			Input  string   `json:"input"`
			Output string   `json:"output"`
			Target string   `json:"target"`
			OK     bool     `json:"ok"`
			Notes  []string `json:"notes"`
		} `json:"actions"`
		Picks []string `json:"picks"`
	} `json:"dry_run"`
}

// TestAutomations_DryRunMatchesARealRun: a dry run resolves what a real
// run then does (the same outputs), and changes nothing itself.
func TestAutomations_DryRunMatchesARealRun(t *testing.T) {
	ts := MustOpenServer(t)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/in"}`), 201)
	want(t, ts.put(t, adminKey, "/in/orders.csv", "a,b\r\n"), 201)
	want(t, ts.put(t, adminKey, "/in/notes.txt", "hello"), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"file it","trigger":"manual","retry":{"attempts":1},
		"conditions":[{"type":"name","pattern":"*.csv"},{"type":"size","max":1000},{"type":"name","pattern":"secret*","negate":true}],
		"actions":[{"type":"rename","to":"{BASENAME}-{YYYY}.{EXT}"},{"type":"copy","to":"/archive/{YYYY}/"},
			{"type":"compress","format":"gzip","keep_original":true},{"type":"email","recipients":["ops@example.com"],"subject":"{NAME} filed"}]}}`)
	before := len(ts.events(t))
	r := ts.do(t, "POST", "/admin/automations/"+id+"/dry_run", adminKey, `{"path":"/in/orders.csv"}`)
	want(t, r, 200)
	var dr dryRunBody
	r.json(t, &dr)
	d := dr.DryRun
	year := time.Now().UTC().Format("2006")
	if !d.Runs || len(d.Conditions) != 3 || !d.Conditions[2].Passes || d.Conditions[2].Holds {
		t.Fatalf("conditions: %+v", d)
	}
	wantOut := []string{"/in/orders-" + year + ".csv", "/archive/" + year + "/orders-" + year + ".csv", "/archive/" + year + "/orders-" + year + ".csv.gz"}
	for i, w := range wantOut {
		if d.Actions[i].Output != w || !d.Actions[i].OK {
			t.Fatalf("action %d: %+v, want output %s", i, d.Actions[i], w)
		}
	}
	if d.Actions[3].OK || !strings.Contains(strings.Join(d.Actions[3].Notes, " "), "[smtp]") || d.Actions[3].Target != "ops@example.com" {
		t.Fatalf("the email without an SMTP host: %+v", d.Actions[3])
	}
	// Nothing changed: the file, no archive, no run, no event.
	want(t, ts.do(t, "GET", "/api/files/stat?path=/in/orders.csv", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/api/files/stat?path=/archive", adminKey, ""), 404)
	if runs := ts.runs(t, id); len(runs) != 0 {
		t.Fatalf("a dry run made a run: %+v", runs)
	}
	if after := len(ts.events(t)); after != before {
		t.Fatalf("a dry run recorded %d events", after-before)
	}
	// A file the conditions refuse.
	r = ts.do(t, "POST", "/admin/automations/"+id+"/dry_run", adminKey, `{"path":"/in/notes.txt"}`)
	r.json(t, &dr)
	if dr.DryRun.Runs || dr.DryRun.Conditions[0].Passes {
		t.Fatalf("notes.txt: %+v", dr.DryRun)
	}

	// The real run (without the email) lands where the dry run said.
	id2 := ts.createAutomation(t, `{"automation":{"name":"file it for real","trigger":"manual","retry":{"attempts":1},
		"actions":[{"type":"rename","to":"{BASENAME}-{YYYY}.{EXT}"},{"type":"copy","to":"/archive/{YYYY}/"},{"type":"compress","format":"gzip","keep_original":true}]}}`)
	r = ts.do(t, "POST", "/admin/automations/"+id2+"/dry_run", adminKey, `{"path":"/in/orders.csv"}`)
	r.json(t, &dr)
	plan := dr.DryRun.Actions
	want(t, ts.do(t, "POST", "/admin/automations/"+id2+"/run", adminKey, `{"path":"/in/orders.csv"}`), 202)
	run := ts.waitRuns(t, id2, 1)[0]
	if run.Run.Status != "succeeded" || len(run.Run.Steps) != len(plan) {
		t.Fatalf("run: %+v", run.Run)
	}
	for i, s := range run.Run.Steps {
		if s.Output != plan[i].Output || s.Input != plan[i].Input {
			t.Fatalf("step %d ran %s → %s; the dry run said %s → %s", i, s.Input, s.Output, plan[i].Input, plan[i].Output)
		}
	}

	// A recorded event; a source's picks; refusals.
	evID := ""
	for _, e := range ts.events(t) {
		if e.Event == "file.uploaded" && e.Path == "/in/notes.txt" {
			evID = e.ID
		}
	}
	r = ts.do(t, "POST", "/admin/automations/"+id+"/dry_run", adminKey, `{"event":"`+evID+`"}`)
	want(t, r, 200)
	r.json(t, &dr)
	if dr.DryRun.File != "/in/notes.txt" || dr.DryRun.Runs {
		t.Fatalf("on the recorded event: %+v", dr.DryRun)
	}
	sched := ts.createAutomation(t, `{"automation":{"name":"sweep","trigger":"schedule","schedule":"0 3 * * *","source":{"path":"/in","recursive":false},
		"conditions":[{"type":"name","pattern":"*.txt"}],"actions":[{"type":"delete"}]}}`)
	r = ts.do(t, "POST", "/admin/automations/"+sched+"/dry_run", adminKey, "")
	want(t, r, 200)
	r.json(t, &dr)
	if len(dr.DryRun.Picks) != 1 || dr.DryRun.Picks[0] != "/in/notes.txt" {
		t.Fatalf("picks: %v", dr.DryRun.Picks)
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path=/in/notes.txt", adminKey, ""), 200)
	for body, status := range map[string]int{`{"path":"/in/missing.csv"}`: 404, `{"event":"nope"}`: 422, `{"path":"/in/a","event":"b"}`: 422, `{"paht":"/x"}`: 422} {
		if r := ts.do(t, "POST", "/admin/automations/"+id+"/dry_run", adminKey, body); r.status != status {
			t.Errorf("%s: %d %s, want %d", body, r.status, r.body, status)
		}
	}
}

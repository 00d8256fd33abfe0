package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"depot/mft"
)

// A webhook subscribed to user.created gets it when a user is created,
// with the new user's id and the fields set, the password hidden (the
// seed's provisioning flow: "fires a webhook back to the CRM"). Found by
// the audit review: user.* were accepted as subscriptions and never sent.
func TestChanges_UserEventsReachWebhooks(t *testing.T) {
	ts := MustOpenServer(t)
	rc := newReceiver(t, 0)
	want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+rc.URL+`","events":["user.created","user.deleted"]}}`), 201)
	u := ts.createUser(t, `{"user":{"email":"crm@example.com","password":"correct-horse","quota_mb":5}}`).User
	want(t, ts.do(t, "DELETE", "/admin/users/"+u.ID, adminKey, ""), 200)
	for rc.count() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	type delivery struct {
		Event string
		Data  mft.Event
	}
	got := map[string]delivery{} // by event: the deliveries may arrive in either order
	raw := map[string]string{}
	for _, b := range rc.bodies {
		var d delivery
		json.Unmarshal([]byte(b), &d)
		got[d.Event], raw[d.Event] = d, b
	}
	created, deleted := got["user.created"], got["user.deleted"]
	if created.Data.Target != u.ID || created.Data.Actor != "admin-localhost" ||
		created.Data.Changes["email"] != "crm@example.com" || created.Data.Changes["password"] != "(set)" {
		t.Fatalf("user.created: %q", raw["user.created"])
	}
	if strings.Contains(strings.Join(rc.bodies, ""), "correct-horse") {
		t.Fatalf("the password reached the webhook: %s", rc.bodies)
	}
	if deleted.Data.Target != u.ID {
		t.Fatalf("user.deleted: %q", raw["user.deleted"])
	}
	// data.id is the event's id in the audit log.
	ts.audit.Flush()
	r := ts.do(t, "GET", "/admin/audit?event=user.created", adminKey, "")
	var evs []struct{ Event mft.Event }
	r.json(t, &evs)
	if created.Data.ID == "" || len(evs) != 1 || evs[0].Event.ID != created.Data.ID {
		t.Fatalf("webhook data.id %q, audit %s", created.Data.ID, r.body)
	}
}

// Administrative changes are in the audit log with their actor, address,
// target and what changed; secrets never are; event=prefix.* filters.
func TestChanges_Audited(t *testing.T) {
	ts := MustOpenServer(t)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared"}`), 201)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Partners"}}`), 201)
	r := ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"group:partners","path":"/shared","permissions":["list","upload"]}}`)
	want(t, r, 201)
	var p struct{ Permission struct{ ID string } }
	r.json(t, &p)
	want(t, ts.do(t, "PUT", "/admin/permissions/"+p.Permission.ID, adminKey, `{"permission":{"permissions":["list"]}}`), 200)
	want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://hook:pa55-word@127.0.0.1:9/x","events":["*"],"secret":"a-long-random-secret"}}`), 201)
	for range 6 {
		ts.defender.Fail(otherIP)
	}
	want(t, ts.do(t, "DELETE", "/admin/bans/"+otherIP.String(), adminKey, ""), 200)
	ts.audit.Flush()

	r = ts.do(t, "GET", "/admin/audit?event=permission.*", adminKey, "")
	want(t, r, 200)
	var evs []struct{ Event mft.Event }
	r.json(t, &evs)
	if len(evs) != 2 || evs[0].Event.Event != "permission.created" || evs[1].Event.Event != "permission.updated" {
		t.Fatalf("permission events: %s", r.body)
	}
	c := evs[0].Event
	if c.Actor != "admin-localhost" || c.IP != "127.0.0.1" || c.Protocol != "api" || c.Target != p.Permission.ID ||
		c.Changes["subject"] != "group:partners" || c.Changes["path"] != "/shared" {
		t.Fatalf("permission.created: %+v", c)
	}
	if u := evs[1].Event.Changes; len(u) != 1 || u["permissions"] == nil {
		t.Fatalf("permission.updated records %v, want only the field sent", u)
	}
	r = ts.do(t, "GET", "/admin/audit?event=webhook.created", adminKey, "")
	if strings.Contains(r.body, "a-long-random-secret") || strings.Contains(r.body, "pa55-word") ||
		!strings.Contains(r.body, `"secret":"(set)"`) || !strings.Contains(r.body, "hook:(set)@") {
		t.Fatalf("webhook.created: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/audit?actor=admin-localhost&status=ok&event=group.*", adminKey, "")
	if !strings.Contains(r.body, `"event":"group.created"`) || strings.Contains(r.body, "permission.") {
		t.Fatalf("actor filter: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/audit?event=ban.lifted", adminKey, "")
	if !strings.Contains(r.body, `"target":"`+otherIP.String()+`"`) {
		t.Fatalf("ban.lifted: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/audit?event=group.*&format=csv", adminKey, "")
	if !strings.Contains(r.body, "group.created") || !strings.Contains(r.body, `partners,"{""name"":""Partners""}"`) {
		t.Fatalf("csv: %s", r.body)
	}
}

// /api/login takes the user id as the login name too.
func TestLoginByID(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"Joe.User@Company.com","password":"correct-horse"}}`).User
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"`+u.ID+`","password":"correct-horse"}}`), 200)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"`+u.ID+`","password":"correct-horse"}}`), 200)
}

// POST /admin/automations/:id/run takes the file to run on; an automation
// whose actions need a file and gets none is 422 at once, not a run that
// fails three times.
func TestAutomations_RunOnPath(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"run@example.com"}}`).User
	want(t, ts.do(t, "PUT", "/api/files/content?path=/ledger.csv", u.APIKey, "a,b\n"), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"archive","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"name","pattern":"*.pdf"}],"actions":[{"type":"copy","to":"/archive/"}]}}`)
	r := ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, "")
	want(t, r, 422)
	if !strings.Contains(r.errors(t)[0], `{"path"`) {
		t.Fatalf("422 without the way out: %s", r.body)
	}
	if runs := ts.runs(t, id); len(runs) != 0 {
		t.Fatalf("a refused run was queued: %+v", runs)
	}
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"../x"}`), 422)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/users/`+u.ID+`/ledger.csv"}`), 202)
	run := ts.waitRuns(t, id, 1)[0].Run
	if run.Status != "succeeded" || len(run.Files) != 1 || run.Files[0] != "/users/"+u.ID+"/ledger.csv" {
		t.Fatalf("run %+v", run)
	}
	r = ts.do(t, "GET", "/api/files/content?path=/archive/ledger.csv", adminKey, "")
	if r.status != 200 || r.body != "a,b\n" {
		t.Fatalf("copied file: %d %q", r.status, r.body)
	}
}

// An automation's trigger URL runs it without an API key, with its own
// token (shown once, replaced when regenerated), on an optional path.
func TestAutomations_TriggerURL(t *testing.T) {
	ts := MustOpenServer(t)
	rc := newReceiver(t, 0)
	id := ts.createAutomation(t, `{"automation":{"name":"crm","trigger":"manual","actions":[{"type":"webhook","url":"`+rc.URL+`"}]}}`)
	r := ts.do(t, "POST", "/admin/automations/"+id+"/trigger_token", adminKey, "")
	want(t, r, 200)
	var tr struct{ Trigger struct{ URL, Token string } }
	r.json(t, &tr)
	if tr.Trigger.URL != ts.URL()+"/api/automations/"+id+"/trigger" || len(tr.Trigger.Token) < 20 {
		t.Fatalf("trigger %s", r.body)
	}
	if v := ts.do(t, "GET", "/admin/automations/"+id, adminKey, ""); strings.Contains(v.body, "trigger_token") {
		t.Fatalf("the token's hash is shown: %s", v.body)
	}
	call := func(token string) response {
		return ts.doWith(t, "POST", "/api/automations/"+id+"/trigger", "", func(r *http.Request) {
			if token != "" {
				r.Header.Set("Authorization", "Bearer "+token)
			}
		})
	}
	want(t, call(""), 401)
	want(t, call("wrong-token-0123456789abcdef"), 401)
	want(t, call(adminKey), 401) // an API key is not the trigger's token
	want(t, call(tr.Trigger.Token), 202)
	ts.waitRuns(t, id, 1)
	for rc.count() < 1 {
		time.Sleep(10 * time.Millisecond)
	}
	// A PUT of the automation keeps the token; regenerating replaces it.
	want(t, ts.do(t, "PUT", "/admin/automations/"+id, adminKey, `{"automation":{"name":"crm2","trigger":"manual","actions":[{"type":"webhook","url":"`+rc.URL+`"}]}}`), 200)
	want(t, call(tr.Trigger.Token), 202)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/trigger_token", adminKey, ""), 200)
	want(t, call(tr.Trigger.Token), 401)
	want(t, ts.do(t, "DELETE", "/admin/automations/"+id+"/trigger_token", adminKey, ""), 200)
}

// Partial updates also answer to PATCH (the Buckets API's verb), and the
// Dropzone SDK's x-api-key header is a credential like Bearer.
func TestPatchAndXAPIKey(t *testing.T) {
	ts := MustOpenServer(t)
	b := ts.createBucket(t, `{"bucket":{"name":"Acme"}}`).Bucket
	r := ts.do(t, "PATCH", "/admin/buckets/"+b.ID, adminKey, `{"name":"Acme Corp","active":false}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"name":"Acme Corp"`) || !strings.Contains(r.body, `"active":false`) {
		t.Fatalf("patched bucket %s", r.body)
	}
	want(t, ts.do(t, "PATCH", "/admin/buckets/"+b.ID, adminKey, `{}`), 422)
	u := ts.createUser(t, `{"user":{"email":"patch@example.com","name":"Before"}}`).User
	r = ts.do(t, "PATCH", "/admin/users/"+u.ID, adminKey, `{"user":{"name":"After"}}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"name":"After"`) || !strings.Contains(r.body, `"email":"patch@example.com"`) {
		t.Fatalf("patched user %s", r.body)
	}
	xkey := func(key string) response {
		return ts.doWith(t, "GET", "/account", "", func(r *http.Request) { r.Header.Set("x-api-key", key) })
	}
	want(t, xkey(u.APIKey), 200)
	want(t, xkey("wrong-key-0123456789abcdef"), 401)
	d := ts.createDropzone(t, adminKey, `{"dropzone":{"name":"sdk","gb":1,"days":30}}`).Dropzone
	want(t, ts.doWith(t, "GET", "/api/dropzones/"+d.ID, "", func(r *http.Request) { r.Header.Set("X-API-Key", d.Token) }), 200)
}

// A schedule that made robfig/cron's parser panic ("TZ=…" without a
// space, found by FuzzSchedule) is a 422, not a 500.
func TestAutomations_ScheduleParserPanic(t *testing.T) {
	ts := MustOpenServer(t)
	for _, spec := range []string{"TZ=Nowhere", "CRON_TZ=Europe/Paris 0 * * * *"} {
		r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"s","trigger":"schedule","schedule":"`+spec+`","actions":[{"type":"webhook","url":"http://127.0.0.1:9/"}]}}`)
		want(t, r, 422)
		r.errors(t)
	}
}

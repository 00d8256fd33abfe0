package mft_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"depot/mft"
)

// invalid checks that every case fails with EINVALID and ok passes.
func invalid[T any](t *testing.T, what string, ok func() T, validate func(T) error, cases map[string]func(T)) {
	t.Helper()
	if err := validate(ok()); err != nil {
		t.Fatalf("%s: a valid one is refused: %v", what, err)
	}
	for name, spoil := range cases {
		v := ok()
		spoil(v)
		if err := validate(v); mft.ErrorCode(err) != mft.EINVALID {
			t.Errorf("%s, %s: %v, want EINVALID", what, name, err)
		}
	}
}

func noSchedule(spec, tz string) error {
	if spec != "@daily" {
		return errors.New("not understood")
	}
	return nil
}

func TestAutomation_Validate(t *testing.T) {
	ok := func() *mft.Automation {
		return &mft.Automation{Name: "a", Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
			Conditions: []mft.Condition{{Type: "name", Pattern: "*.csv"}}, Actions: []mft.Action{{Type: "move", To: "/archive/"}}}
	}
	min, max := int64(10), int64(5)
	invalid(t, "automation", ok, func(a *mft.Automation) error { return a.Validate(noSchedule) }, map[string]func(*mft.Automation){
		"no name":            func(a *mft.Automation) { a.Name = " " },
		"bad trigger":        func(a *mft.Automation) { a.Trigger = "often" },
		"no actions":         func(a *mft.Automation) { a.Actions = nil },
		"21 actions":         func(a *mft.Automation) { a.Actions = make([]mft.Action, 21) },
		"no events":          func(a *mft.Automation) { a.Events = nil },
		"unknown event":      func(a *mft.Automation) { a.Events = []string{"file.eaten"} },
		"schedule on event":  func(a *mft.Automation) { a.Schedule = "@daily" },
		"bad schedule":       func(a *mft.Automation) { a.Trigger, a.Events, a.Schedule = mft.TriggerSchedule, nil, "often" },
		"events on manual":   func(a *mft.Automation) { a.Trigger = mft.TriggerManual },
		"retry 21":           func(a *mft.Automation) { a.Retry.Attempts = 21 },
		"bad glob":           func(a *mft.Automation) { a.Conditions[0].Pattern = "[" },
		"size min > max":     func(a *mft.Automation) { a.Conditions[0] = mft.Condition{Type: "size", Min: &min, Max: &max} },
		"size without":       func(a *mft.Automation) { a.Conditions[0] = mft.Condition{Type: "size"} },
		"user without id":    func(a *mft.Automation) { a.Conditions[0] = mft.Condition{Type: "user"} },
		"age not a duration": func(a *mft.Automation) { a.Conditions[0] = mft.Condition{Type: "age", Older: "old"} },
		"unknown condition":  func(a *mft.Automation) { a.Conditions[0].Type = "colour" },
		"move relative":      func(a *mft.Automation) { a.Actions[0].To = "archive" },
		"rename with slash":  func(a *mft.Automation) { a.Actions[0] = mft.Action{Type: "rename", To: "a/b"} },
		"webhook ftp":        func(a *mft.Automation) { a.Actions[0] = mft.Action{Type: "webhook", URL: "ftp://x"} },
		"pgp without key":    func(a *mft.Automation) { a.Actions[0] = mft.Action{Type: "pgp_encrypt"} },
		"unknown action":     func(a *mft.Automation) { a.Actions[0].Type = "print" },
		"local source with pattern": func(a *mft.Automation) {
			a.Trigger, a.Events, a.Schedule, a.Source = mft.TriggerSchedule, nil, "@daily", &mft.Source{Path: "/in", Pattern: "*.csv"}
		},
	})
	a := ok()
	if err := a.Validate(noSchedule); err != nil || a.Retry.Attempts != mft.DefaultRetryAttempts {
		t.Fatalf("defaults: attempts %d, %v", a.Retry.Attempts, err)
	}
	s := &mft.Automation{Name: "s", Trigger: mft.TriggerSchedule, Schedule: "@daily", Source: &mft.Source{Path: "/in"},
		Actions: []mft.Action{{Type: "delete"}}}
	if err := s.Validate(noSchedule); err != nil || !s.NeedsFile() {
		t.Fatalf("scheduled local source: %v, needs a file %v", err, s.NeedsFile())
	}
	hook := &mft.Automation{Actions: []mft.Action{{Type: "webhook"}}}
	pull := &mft.Automation{Source: &mft.Source{Connection: "conn_1", Path: "out"}, Actions: []mft.Action{{Type: "delete"}}}
	if hook.NeedsFile() || pull.NeedsFile() {
		t.Fatal("a webhook-only automation or one whose source fetches its files needs no file")
	}
	if d := pull.Source.Download(); d.Type != "download" || d.Connection != "conn_1" || d.From != "out" {
		t.Fatalf("source download = %+v", d)
	}
}

func TestConnection_Validate(t *testing.T) {
	fp := "SHA256:" + strings.Repeat("a", 43)
	ok := func() *mft.Connection {
		return &mft.Connection{Name: "p", Type: mft.ConnSFTP, Host: "h", Username: "u", Password: "pw", HostKey: fp}
	}
	invalid(t, "connection", ok, (*mft.Connection).Validate, map[string]func(*mft.Connection){
		"no name":          func(c *mft.Connection) { c.Name = "" },
		"port":             func(c *mft.Connection) { c.Port = 70000 },
		"base_path ..":     func(c *mft.Connection) { c.BasePath = "a/../b" },
		"no secret":        func(c *mft.Connection) { c.Password = "" },
		"no host key":      func(c *mft.Connection) { c.HostKey = "" },
		"md5 host key":     func(c *mft.Connection) { c.HostKey = "MD5:aa:bb" },
		"unknown type":     func(c *mft.Connection) { c.Type = "gopher" },
		"ftp implicit tls": func(c *mft.Connection) { c.Type, c.HostKey, c.TLS = mft.ConnFTP, "", "implicit" },
		"s3 no bucket": func(c *mft.Connection) {
			*c = mft.Connection{Name: "s", Type: mft.ConnS3, Endpoint: "https://s3.test", AccessKey: "a", SecretKey: "s"}
		},
		"s3 endpoint path": func(c *mft.Connection) {
			*c = mft.Connection{Name: "s", Type: mft.ConnS3, Endpoint: "https://s3.test/x", Bucket: "b", AccessKey: "a", SecretKey: "s"}
		},
		"ftp with key": func(c *mft.Connection) { c.Type = mft.ConnFTP },
	})
}

func TestFolder_Rules(t *testing.T) {
	ok := func() *mft.Folder {
		return &mft.Folder{Path: "/in", AllowedExtensions: []string{".CSV", "csv", "txt"}}
	}
	invalid(t, "folder", ok, (*mft.Folder).Validate, map[string]func(*mft.Folder){
		"relative":      func(f *mft.Folder) { f.Path = "in" },
		"bad extension": func(f *mft.Folder) { f.BlockedExtensions = []string{"e x e"} },
		"quota":         func(f *mft.Folder) { f.QuotaMB = -1 },
		"max size":      func(f *mft.Folder) { f.MaxFileSize = mft.MaxMB + 1 },
		"retention":     func(f *mft.Folder) { f.RetentionDays = 40000 },
	})
	f := ok()
	f.Validate()
	if len(f.AllowedExtensions) != 2 || f.AllowedExtensions[0] != "csv" {
		t.Fatalf("extensions kept as %v, want [csv txt]", f.AllowedExtensions)
	}
	for name, want := range map[string]string{"a.csv": "", "A.TXT": "", "a.exe": mft.EINVALID, "noext": mft.EINVALID, "a.csv.": mft.EMALFORMED, "a:b.csv": mft.EMALFORMED} {
		if got := mft.ErrorCode(f.CheckName(name, "/in")); got != want {
			t.Errorf("CheckName(%q) = %q, want %q", name, got, want)
		}
	}
	blocked := &mft.Folder{Path: "/x", BlockedExtensions: []string{"exe"}}
	if blocked.CheckName("a.exe", "/x") == nil || blocked.CheckName("a.pdf", "/x") != nil {
		t.Fatal("blocked extensions")
	}
	if (&mft.Folder{}).CheckName("trailing dot.", "/") != nil {
		t.Fatal("without extension rules, names are the protocols' business")
	}
	q, r := int64(7), 3
	f.Apply(mft.FolderUpdate{QuotaMB: &q, RetentionDays: &r})
	if f.QuotaMB != 7 || f.RetentionDays != 3 || len(f.AllowedExtensions) != 2 {
		t.Fatalf("applied = %+v", f)
	}
}

func TestPermission_Group_Mount_Dropzone_Bucket_Validate(t *testing.T) {
	invalid(t, "permission", func() *mft.Permission {
		return &mft.Permission{Subject: "user:joe", Path: "/shared", Permissions: []string{mft.PermList}}
	}, (*mft.Permission).Validate, map[string]func(*mft.Permission){
		"subject":      func(p *mft.Permission) { p.Subject = "joe" },
		"subject kind": func(p *mft.Permission) { p.Subject = "role:joe" },
		"no perms":     func(p *mft.Permission) { p.Permissions = nil },
		"bad perm":     func(p *mft.Permission) { p.Permissions = []string{"fly"} },
		"mount slash":  func(p *mft.Permission) { p.Mount = "a/b" },
	})
	if p := (&mft.Permission{Permissions: []string{mft.PermList}}); !p.Allows(mft.PermList) || p.Allows(mft.PermDelete) {
		t.Fatal("Allows")
	}
	invalid(t, "group", func() *mft.Group { return &mft.Group{ID: "sales", Name: "Sales"} }, (*mft.Group).Validate, map[string]func(*mft.Group){
		"no name":     func(g *mft.Group) { g.Name = "" },
		"bad id":      func(g *mft.Group) { g.ID = "Sales Team" },
		"control":     func(g *mft.Group) { g.Name = "a\x07" },
		"description": func(g *mft.Group) { g.Description = strings.Repeat("x", 5000) },
	})
	invalid(t, "mount", func() *mft.Mount { return &mft.Mount{Path: "/users/joe", Connection: "conn_1"} }, (*mft.Mount).Validate, map[string]func(*mft.Mount){
		"relative":   func(m *mft.Mount) { m.Path = "users/joe" },
		"top":        func(m *mft.Mount) { m.Path = "/users" },
		"dots":       func(m *mft.Mount) { m.Path = "/users/../x" },
		"connection": func(m *mft.Mount) { m.Connection = "x" },
		"prefix":     func(m *mft.Mount) { m.Prefix = "a\\b" },
	})
	invalid(t, "dropzone", func() *mft.Dropzone { return &mft.Dropzone{Name: "d", GB: 1, Days: 30} }, (*mft.Dropzone).Validate, map[string]func(*mft.Dropzone){
		"name": func(d *mft.Dropzone) { d.Name = "" },
		"gb":   func(d *mft.Dropzone) { d.GB = 0.1 },
		"days": func(d *mft.Dropzone) { d.Days = 400 },
	})
	if (&mft.Dropzone{GB: 0.5}).Limit() != 500_000_000 {
		t.Fatal("a GB is 10^9 bytes")
	}
	invalid(t, "bucket", func() *mft.Bucket { return &mft.Bucket{Name: "b"} }, (*mft.Bucket).Validate, map[string]func(*mft.Bucket){
		"name":  func(b *mft.Bucket) { b.Name = "  " },
		"quota": func(b *mft.Bucket) { b.QuotaMB = -5 },
	})
	if mft.BucketRoot("buc_1") != "/buckets/buc_1" {
		t.Fatal("BucketRoot")
	}
}

func TestFiledrop_Rules(t *testing.T) {
	ok := func() *mft.Filedrop {
		return &mft.Filedrop{Name: "Drop-1", Title: "t", Owner: "joe", ExpiresAfter: 7, MaxFilesize: 10, Authorization: 3, InvalidExtensions: ".EXE, bat", CC: "ann@example.test"}
	}
	invalid(t, "filedrop", ok, (*mft.Filedrop).Validate, map[string]func(*mft.Filedrop){
		"name":          func(f *mft.Filedrop) { f.Name = "a b" },
		"title":         func(f *mft.Filedrop) { f.Title = "" },
		"owner":         func(f *mft.Filedrop) { f.Owner = "" },
		"expires":       func(f *mft.Filedrop) { f.ExpiresAfter = 0 },
		"max size":      func(f *mft.Filedrop) { f.MaxFilesize = 0 },
		"authorization": func(f *mft.Filedrop) { f.Authorization = 1 },
	})
	f := ok()
	f.Validate()
	if f.CheckFilename("x.exe") == nil || f.CheckFilename("x.BAT") == nil || f.CheckFilename("x.pdf") != nil {
		t.Fatal("invalid extensions")
	}
	if cc := f.CCs(); len(cc) != 1 || cc[0] != "ann@example.test" {
		t.Fatalf("CCs = %v", cc)
	}
	title, auth := "new", 2
	f.Apply(mft.FiledropUpdate{Title: &title, Authorization: &auth})
	if f.Title != "new" || f.Authorization != 2 || f.Owner != "joe" {
		t.Fatalf("applied = %+v", f)
	}
	m := &mft.Message{Recipients: []string{"joe"}, Authorization: 3}
	if !m.MayDownload("joe") || m.MayDownload("eve") {
		t.Fatal("authorization 3: recipients only")
	}
	m.Authorization = 2
	if !m.MayDownload("eve") {
		t.Fatal("authorization 2: any local user")
	}
}

func TestWebhook_MatchesAndAuditFilter(t *testing.T) {
	w := &mft.Webhook{Active: true, Events: []string{mft.EventFileUploaded}, Bucket: "b1", Paths: []string{"/buckets/b1/in"}}
	ev := mft.Event{Event: mft.EventFileUploaded, Bucket: "b1", Path: "/buckets/b1/in/x"}
	if !w.Matches(ev) {
		t.Fatal("a matching event")
	}
	for name, spoil := range map[string]func(*mft.Event, *mft.Webhook){
		"inactive":    func(e *mft.Event, w *mft.Webhook) { w.Active = false },
		"other event": func(e *mft.Event, w *mft.Webhook) { e.Event = mft.EventFileDeleted },
		"bucket":      func(e *mft.Event, w *mft.Webhook) { e.Bucket = "b2" },
		"path":        func(e *mft.Event, w *mft.Webhook) { e.Path = "/buckets/b1/out/x" },
	} {
		e, w2 := ev, *w
		spoil(&e, &w2)
		if w2.Matches(e) {
			t.Errorf("%s: matched", name)
		}
	}
	f := mft.AuditFilter{Event: "file.*", PathPrefix: "/buckets/b1"}
	if !f.Match(&ev) || f.Match(&mft.Event{Event: mft.EventUserLogin}) {
		t.Fatal("event family filter")
	}
	moved := mft.Event{Event: mft.EventFileRenamed, Path: "/elsewhere", NewPath: "/buckets/b1/x"}
	if !f.Match(&moved) {
		t.Fatal("a file renamed into the prefix matches it")
	}
	if mft.HasPathPrefix("/buckets/b10", "/buckets/b1") || !mft.HasPathPrefix("/x", "/") {
		t.Fatal("HasPathPrefix")
	}
}

type recorder struct{ got []mft.Event }

func (r *recorder) Publish(ev mft.Event) { r.got = append(r.got, ev) }
func (r *recorder) Stamp(ev *mft.Event)  { ev.ID = "evt_1" }
func (r *recorder) PublishDurable(_ context.Context, ev mft.Event) error {
	r.got = append(r.got, ev)
	return errors.New("disk full")
}

func TestEventsAndOrigin(t *testing.T) {
	plain, stamper := &recorder{}, &recorder{}
	sink := mft.MultiSink{plainSink{plain}, stamper}
	sink.Publish(mft.Event{Event: mft.EventFileUploaded})
	if plain.got[0].ID != "evt_1" || stamper.got[0].ID != "evt_1" {
		t.Fatal("every sink sees the id the stamper gave")
	}
	if err := sink.PublishDurable(context.Background(), mft.Event{}); err == nil || len(plain.got) != 2 {
		t.Fatalf("durable: %v, plain sink got %d", err, len(plain.got))
	}
	mft.Publish(nil, mft.Event{}) // dropped, no panic
	mft.Publish(plain, mft.Event{})
	if plain.got[2].Status != mft.StatusOK {
		t.Fatal("Publish sets the status ok")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	if ev := mft.ChangeEvent(context.Background(), "x.updated", "id1", now); ev.Actor != "" || ev.Target != "id1" || ev.Time.Location() != time.UTC {
		t.Fatalf("system change = %+v", ev)
	}
	ctx := mft.WithOrigin(context.Background(), mft.Origin{Actor: "joe", IP: "192.0.2.1", Protocol: "web", Changes: map[string]any{"a": 1}})
	if ev := mft.ChangeEvent(ctx, "x.updated", "id1", now); ev.Actor != "joe" || ev.IP != "192.0.2.1" || ev.Changes["a"] != 1 || ev.Status != mft.StatusOK {
		t.Fatalf("change = %+v", ev)
	}
	if p := (mft.Page{Limit: 5000}).Normalize(); p.Limit != mft.MaxLimit {
		t.Fatal("Normalize caps the limit")
	}
	if p := (mft.Page{}).Normalize(); p.Limit != mft.DefaultLimit {
		t.Fatal("Normalize's default")
	}
	err := mft.Keep(errors.New("why"))
	var k *mft.KeepError
	if !errors.As(err, &k) || err.Error() != "why" {
		t.Fatal("Keep")
	}
}

// plainSink hides the recorder's other methods.
type plainSink struct{ r *recorder }

func (p plainSink) Publish(ev mft.Event) { p.r.Publish(ev) }

func TestUser_ValidateAndApply(t *testing.T) {
	ok := func() *mft.User {
		return &mft.User{ID: mft.UserID("joe@example.test", ""), Email: "joe@example.test", Role: mft.RoleUser, Home: mft.HomeFor("joe"), Active: true,
			Protocols: []string{"sftp"}, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
	}
	invalid(t, "user", ok, (*mft.User).Validate, map[string]func(*mft.User){
		"no email or username": func(u *mft.User) { u.Email = "" },
		"bad email":            func(u *mft.User) { u.Email = "Joe <joe@example.test>" },
		"username space":       func(u *mft.User) { u.Username = "joe smith" },
		"no id":                func(u *mft.User) { u.ID = "" },
		"role":                 func(u *mft.User) { u.Role = "root" },
		"protocol":             func(u *mft.User) { u.Protocols = []string{"gopher"} },
		"home":                 func(u *mft.User) { u.Home = "users/joe" },
		"allowed ip":           func(u *mft.User) { u.AllowedIPs = []string{"not an ip"} },
		"quota":                func(u *mft.User) { u.QuotaMB = -1 },
	})
	if mft.UserID("", "Joe_S") != "joe-s" || mft.HomeFor("joe") != "/users/joe" {
		t.Fatal("UserID, HomeFor")
	}
	u := ok()
	name, admin, off := "Joe", mft.RoleAdmin, false
	u.Apply(mft.UserUpdate{Name: &name})
	if u.Name != "Joe" || u.SessionGeneration != 0 {
		t.Fatal("a name change keeps the sessions")
	}
	u.Apply(mft.UserUpdate{Role: &admin})
	u.Apply(mft.UserUpdate{Active: &off})
	if u.Role != mft.RoleAdmin || u.Active || u.SessionGeneration != 2 {
		t.Fatalf("role and deactivation each end the sessions: generation %d", u.SessionGeneration)
	}
}

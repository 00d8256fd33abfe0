package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"depot/app"
	"depot/files"
	"depot/internal/testpeer"
	"depot/internal/testtool"
	"depot/mft"
	"depot/scan"
)

// scanning starts a server whose uploads go through clamd (or ICAP when
// icap is set), with policy.
func scanning(t *testing.T, c *testpeer.Clamd, policy files.ScanPolicy, maxSize int64) *testServer {
	t.Helper()
	s, err := scan.New(scan.Config{Engine: scan.Clamd, Address: c.Address(), Timeout: 20 * time.Second, MaxSize: maxSize})
	if err != nil {
		t.Fatal(err)
	}
	return MustOpenServer(t, func(a *app.App) { a.Files.Scanner, a.Files.ScanPolicy = s, policy })
}

const malware = "contains malware (Eicar-Test-Signature); it was not stored."

// quarantined returns the quarantine's records.
func (ts *testServer) quarantined(t *testing.T) []files.Quarantined {
	t.Helper()
	r := ts.do(t, "GET", "/admin/quarantine", adminKey, "")
	want(t, r, 200)
	var list []struct{ Quarantined files.Quarantined }
	r.json(t, &list)
	out := make([]files.Quarantined, len(list))
	for i, q := range list {
		out[i] = q.Quarantined
	}
	return out
}

func zipWith(name, body string) string {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, _ := z.Create(name)
	w.Write([]byte(body))
	z.Close()
	return buf.String()
}

func TestScan_EveryRoadRefusesEICAR(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	u := ts.mountUser(t, "partner", 0)

	// HTTP: one body; a zip holding EICAR; chunks with EICAR split across
	// two of them (refused once the pieces are complete).
	for name, body := range map[string]string{"/invoice.pdf": testpeer.EICAR, "/invoices.zip": zipWith("invoice.exe", testpeer.EICAR)} {
		r := ts.put(t, u.apiKey, name, body)
		if r.status != 422 || !strings.Contains(r.errors(t)[0], malware) {
			t.Fatalf("PUT %s: %d %s", name, r.status, r.body)
		}
	}
	half := len(testpeer.EICAR) / 2
	want(t, ts.put(t, u.apiKey, "/chunked.txt", testpeer.EICAR[:half], "chunk=0&chunks=2"), 202)
	if r := ts.put(t, u.apiKey, "/chunked.txt", testpeer.EICAR[half:], "chunk=1&chunks=2"); r.status != 422 || !strings.Contains(r.body, "malware") {
		t.Fatalf("chunked: %d %s", r.status, r.body)
	}
	// SFTP: the close fails with the reason.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "eicar.com"), []byte(testpeer.EICAR), 0o600)
	out, err := ts.openssh(t, u, "put "+filepath.Join(dir, "eicar.com")+" /eicar.com")
	if err == nil || !strings.Contains(out, "Eicar-Test-Signature") {
		t.Fatalf("sftp put: %v\n%s", err, out)
	}
	// An upload link (a stranger's road).
	want(t, ts.do(t, "POST", "/api/folders", u.apiKey, `{"path":"/inbox"}`), 201)
	l := ts.createLink(t, u.apiKey, `{"link":{"path":"/inbox","allow_upload":true}}`).Link
	r := ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename=eicar.txt", testpeer.EICAR, nil)
	if r.status != 422 || !strings.Contains(r.body, "malware") {
		t.Fatalf("link upload: %d %s", r.status, r.body)
	}

	// A filedrop, a dropzone's upload URL and an AS2 partner: strangers'
	// and applications' roads.
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"Drop","owner":"`+u.id+`"}}`), 201)
	_, sender := ts.openFiledrop(t, "drop", "")
	if r := sender.upload(t, "filename=eicar.txt", testpeer.EICAR); r.status != 422 || !strings.Contains(r.body, "malware") {
		t.Fatalf("filedrop upload: %d %s", r.status, r.body)
	}
	_, _, dzURL := ts.reserveDZFile(t, len(testpeer.EICAR))
	if r := ts.putURL(t, dzURL, testpeer.EICAR); r.status != 422 || !strings.Contains(r.body, "malware") {
		t.Fatalf("dropzone upload: %d %s", r.status, r.body)
	}
	s := newAS2Setup(t, ts, "ACME")
	msg := s.peer.Build("eicar.x12", []byte(testpeer.EICAR), testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert})
	st, h, b := s.post(t, "ACME", "<eicar@acme.example>", msg)
	s.refusedAS2(t, st, h, b, "error: unexpected-processing-error", "eicar.x12")

	// None of it is anywhere in the user's tree; a clean file is, with
	// its clean verdict on its event.
	r = ts.do(t, "GET", "/api/files?path=/", u.apiKey, "")
	for _, n := range []string{"invoice.pdf", "invoices.zip", "chunked.txt", "eicar.com"} {
		if strings.Contains(r.body, n) {
			t.Fatalf("%s is listed: %s", n, r.body)
		}
	}
	want(t, ts.put(t, u.apiKey, "/clean.csv", "a,b\r\n1,2\r\n"), 201)
	q := ts.quarantined(t)
	if len(q) != 8 {
		t.Fatalf("quarantined: %d, want 8: %+v", len(q), q)
	}
	for _, it := range q {
		if it.Finding != "Eicar-Test-Signature" || it.Engine != "clamd" || !it.Kept {
			t.Fatalf("quarantine record: %+v", it)
		}
	}
	denied, quarantinedEvents, clean := 0, 0, false
	for _, ev := range ts.events(t) {
		switch {
		case ev.Event == mft.EventFileUploaded && ev.Status == mft.StatusDenied && strings.Contains(ev.Message, "Eicar-Test-Signature"):
			denied++
		case ev.Event == mft.EventFileQuarantined && ev.Message == "Eicar-Test-Signature":
			quarantinedEvents++
		case ev.Event == mft.EventFileUploaded && strings.HasSuffix(ev.Path, "/clean.csv"):
			clean = ev.Status == mft.StatusOK && strings.HasPrefix(ev.Message, "scanned clean by clamd (ClamAV ")
		}
	}
	if denied != 8 || quarantinedEvents != 8 || !clean {
		t.Fatalf("audit: %d denied, %d file.quarantined, clean %v; want 8, 8, true", denied, quarantinedEvents, clean)
	}
}

func TestScan_QuarantineAdministration(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	u := ts.mountUser(t, "partner", 0)
	want(t, ts.put(t, u.apiKey, "/sample.txt", "clean first"), 201)
	if r := ts.put(t, u.apiKey, "/sample.txt", testpeer.EICAR, "overwrite=true"); r.status != 422 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// The clean file the infected one would have replaced is still there.
	if r := ts.do(t, "GET", "/api/files/content?path=/sample.txt", u.apiKey, ""); r.body != "clean first" {
		t.Fatalf("the replaced file: %q", r.body)
	}
	q := ts.quarantined(t)[0]
	// Only administrators see it, and download it as an attachment.
	want(t, ts.do(t, "GET", "/admin/quarantine", u.apiKey, ""), 403)
	r := ts.do(t, "GET", "/admin/quarantine/"+q.ID+"/download", adminKey, "")
	if r.status != 200 || r.body != testpeer.EICAR || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") ||
		r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("download: %d %v %q", r.status, r.header, r.body)
	}
	want(t, ts.do(t, "GET", "/admin/quarantine/nope/download", adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/admin/quarantine/..%2F..%2Fdepot.db/download", adminKey, ""), 404)
	// Release: published at its path (over the clean file only when
	// asked), not scanned again, audited.
	want(t, ts.do(t, "POST", "/admin/quarantine/"+q.ID+"/release", adminKey, ""), 409)
	want(t, ts.do(t, "POST", "/admin/quarantine/"+q.ID+"/release?overwrite=true", adminKey, ""), 200)
	if r := ts.do(t, "GET", "/api/files/content?path=/sample.txt", u.apiKey, ""); r.body != testpeer.EICAR {
		t.Fatalf("released: %q", r.body)
	}
	if len(ts.quarantined(t)) != 0 {
		t.Fatal("a released file is still in the quarantine")
	}
	released := false
	for _, ev := range ts.events(t) {
		released = released || ev.Event == mft.EventFileUploaded && ev.Status == mft.StatusOK && strings.Contains(ev.Message, "released from the quarantine (Eicar-Test-Signature")
	}
	if !released {
		t.Fatal("the release is not audited")
	}
	// Delete.
	if r := ts.put(t, u.apiKey, "/again.txt", testpeer.EICAR); r.status != 422 {
		t.Fatal(r.body)
	}
	q = ts.quarantined(t)[0]
	want(t, ts.do(t, "DELETE", "/admin/quarantine/"+q.ID, adminKey, ""), 200)
	want(t, ts.do(t, "DELETE", "/admin/quarantine/"+q.ID, adminKey, ""), 404)
}

func TestScan_EngineDownAndSizeLimits(t *testing.T) {
	c := testpeer.StartClamd(t, 1) // clamd scans streams up to 1 MiB
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	u := ts.mountUser(t, "partner", 0)

	// Above what clamd scans: refused, nothing stored.
	big := strings.Repeat("x", 2<<20)
	if r := ts.put(t, u.apiKey, "/big.bin", big); r.status != 413 || !strings.Contains(r.body, "scan.max_size") {
		t.Fatalf("oversize refused: %d %s", r.status, r.body)
	}
	// clamd killed: 503 with Retry-After, nothing stored; back: stored.
	c.Stop()
	r := ts.put(t, u.apiKey, "/while-down.txt", "hello")
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "antivirus") {
		t.Fatalf("clamd down: %d %v %s", r.status, r.header, r.body)
	}
	out, err := ts.openssh(t, u, "put /etc/hostname /while-down.txt")
	if err == nil {
		t.Fatalf("sftp while clamd is down: %s", out)
	}
	if r := ts.do(t, "GET", "/api/files/stat?path=/while-down.txt", u.apiKey, ""); r.status != 404 {
		t.Fatalf("stored while clamd was down: %d", r.status)
	}
	refusalAudited := false
	for _, ev := range ts.events(t) {
		refusalAudited = refusalAudited || ev.Event == mft.EventFileUploaded && ev.Status == mft.StatusError &&
			strings.HasSuffix(ev.Path, "/while-down.txt") && strings.Contains(ev.Message, "could not scan")
	}
	if !refusalAudited {
		t.Fatal("the refusal while clamd was down is not audited")
	}
	c.Start(t)
	want(t, ts.put(t, u.apiKey, "/while-down.txt", "hello"), 201)

	// The administrator's choice: publish unscanned, audited.
	ts.app.Files.ScanPolicy = files.ScanPolicy{AllowOversize: true, AllowUnscanned: true}
	want(t, ts.put(t, u.apiKey, "/big.bin", big), 201)
	c.Stop()
	want(t, ts.put(t, u.apiKey, "/unscanned.txt", "hello"), 201)
	notes := map[string]string{}
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventFileUploaded && ev.Status == mft.StatusOK {
			notes[ev.Path[strings.LastIndex(ev.Path, "/")+1:]] = ev.Message
		}
	}
	if !strings.Contains(notes["big.bin"], "unscanned: larger than scan.max_size") || !strings.Contains(notes["unscanned.txt"], "published unscanned") {
		t.Fatalf("audit notes: %v", notes)
	}
}

func TestScan_ICAPEngine(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	ic := testpeer.StartCICAP(t, c)
	s, err := scan.New(scan.Config{Engine: scan.ICAP, Address: ic.URL, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := MustOpenServer(t, func(a *app.App) { a.Files.Scanner = s })
	u := ts.mountUser(t, "partner", 0)
	if r := ts.put(t, u.apiKey, "/eicar.txt", testpeer.EICAR); r.status != 422 || !strings.Contains(r.body, "Eicar-Test-Signature") {
		t.Fatalf("ICAP, EICAR: %d %s", r.status, r.body)
	}
	want(t, ts.put(t, u.apiKey, "/clean.txt", "hello"), 201)
	if q := ts.quarantined(t); len(q) != 1 || q[0].Engine != "icap" {
		t.Fatalf("quarantine: %+v", q)
	}
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventFileUploaded && strings.HasSuffix(ev.Path, "/clean.txt") && !strings.HasPrefix(ev.Message, "scanned clean by icap (") {
			t.Fatalf("the clean verdict's record: %q", ev.Message)
		}
	}
}

func TestScan_MountedUploadIsAborted(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	g := testpeer.StartVersityGW(t)
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	u := ts.mountUser(t, "mounted", 0)
	ts.mount(t, "/users/"+u.id, ts.s3Connection(t, g), "homes/"+u.id)
	if r := ts.put(t, u.apiKey, "/eicar.txt", testpeer.EICAR); r.status != 422 || !strings.Contains(r.body, malware) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	want(t, ts.put(t, u.apiKey, "/clean.txt", "hello"), 201)
	// Nothing of it on the store: the multipart or single upload was
	// never committed.
	found := ""
	filepath.Walk(g.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.Contains(p, "eicar") {
			found = p
		}
		return nil
	})
	if found != "" {
		t.Fatalf("the infected upload reached the store: %s", found)
	}
	q := ts.quarantined(t)
	if len(q) != 1 || q[0].Kept {
		t.Fatalf("quarantine of a mounted upload: %+v", q)
	}
	r := ts.do(t, "POST", "/admin/quarantine/"+url.PathEscape(q[0].ID)+"/release", adminKey, "")
	if r.status != 422 || !strings.Contains(r.body, "not kept") {
		t.Fatalf("release of what was not kept: %d %s", r.status, r.body)
	}
}

// TestScan_PulledFileRefused: a file an automation pulls from a partner's
// server is scanned like an upload; the step fails naming the finding
// and nothing is published.
func TestScan_PulledFileRefused(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	peer := testpeer.StartSSHD(t)
	os.Mkdir(filepath.Join(peer.Dir, "outbox"), 0o755)
	os.WriteFile(filepath.Join(peer.Dir, "outbox", "invoice.pdf"), []byte(testpeer.EICAR), 0o644)
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	conn := ts.sftpConnection(t, peer)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/inbox"}`), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"pull","trigger":"manual","retry":{"attempts":1},
		"actions":[{"type":"download","connection":"`+conn+`","from":"/outbox","to":"/shared/inbox"}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{}`), 202)
	run := ts.waitRuns(t, id, 1)[0]
	if run.Run.Status != "failed" || !strings.Contains(run.Run.Error, "Eicar-Test-Signature") {
		t.Fatalf("run %s %q", run.Run.Status, run.Run.Error)
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path=/shared/inbox/invoice.pdf", adminKey, ""), 404)
	if q := ts.quarantined(t); len(q) != 1 || q[0].Protocol != mft.AuditAutomation {
		t.Fatalf("quarantine: %+v", q)
	}
}

// TestScan_FiledropPageShowsTheFinding: on the filedrop page, a file the
// antivirus refuses is marked on its own row with the finding, and the
// sender can remove it and send the rest.
func TestScan_FiledropPageShowsTheFinding(t *testing.T) {
	chromium := testtool.Path(t, "chromium")
	c := testpeer.StartClamd(t, 64)
	ts := scanning(t, c, files.ScanPolicy{}, 0)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"scanned","title":"Send us your files","owner":"`+ou.ID+`"}}`), 201)
	dir := t.TempDir()
	bad, good := filepath.Join(dir, "invoice.pdf"), filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte(testpeer.EICAR), 0o600)
	os.WriteFile(good, []byte("hello"), 0o600)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL()+"/filedrop/scanned"),
		chromedp.WaitVisible("#send-form"),
		chromedp.SetUploadFiles("#files", []string{good, bad}),
		chromedp.SendKeys("#from", "pat@partner.example"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#file-list li.refused"),
	)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	status, _ := chromedp.Run(ctx, chromedp.TextContent("#file-list li.refused .status"))
	err = chromedp.Do(ctx,
		chromedp.Click("#file-list li.refused .remove"),
		chromedp.WaitNotPresent("#file-list li.refused"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#done"),
	)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if !strings.Contains(status, "contains malware (Eicar-Test-Signature)") {
		t.Fatalf("the row says %q", status)
	}
}

// TestScan_QuarantineBound: past quarantine_mb the oldest quarantined
// files go first.
func TestScan_QuarantineBound(t *testing.T) {
	c := testpeer.StartClamd(t, 64)
	s, err := scan.New(scan.Config{Engine: scan.Clamd, Address: c.Address(), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := MustOpenServer(t, func(a *app.App) {
		a.Files.Scanner = s
		if err := a.Files.SetQuarantine(int64(len(testpeer.EICAR)) * 2); err != nil { // room for two
			t.Fatal(err)
		}
	})
	u := ts.mountUser(t, "partner", 0)
	for _, name := range []string{"/one.txt", "/two.txt", "/three.txt"} {
		if r := ts.put(t, u.apiKey, name, testpeer.EICAR); r.status != 422 {
			t.Fatalf("%s: %d", name, r.status)
		}
	}
	q := ts.quarantined(t)
	if len(q) != 2 || q[0].Client != "/two.txt" || q[1].Client != "/three.txt" {
		t.Fatalf("kept: %+v", q)
	}
}

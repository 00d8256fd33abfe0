package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"depot/internal/testtool"
)

// chromiumTab starts a headless Chromium of its own (its own profile, so
// its own cookies) that saves downloads in dir, and returns a tab.
func chromiumTab(t *testing.T, dir string) context.Context {
	t.Helper()
	chromium := testtool.Path(t, "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), remote.WebSocket)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // opens the tab, which lives as long as ctx
		t.Fatalf("chromium: %v", err)
	}
	on := true
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &on}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return ctx
}

// download runs actions that start a download and waits for it to finish;
// it returns the downloaded file's path.
func download(t *testing.T, ctx context.Context, dir string, actions ...chromedp.Action[chromedp.Void]) string {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := chromedp.BrowserEvents(lctx, browser.DownloadProgress)
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for ev, err := range events {
		if err != nil {
			t.Fatalf("the download did not finish: %v", err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			return filepath.Join(dir, ev.GUID)
		case browser.DownloadProgressStateCanceled:
			t.Fatal("the download was canceled")
		}
	}
	t.Fatal("the download did not finish")
	return ""
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// pageCheck looks at the page a person sees: axe-core finds no serious or
// critical accessibility problem, and a screenshot is kept at desktop and
// phone widths.
type pageCheck struct {
	t   *testing.T
	axe string
	out string // where screenshots go
}

func newPageCheck(t *testing.T) *pageCheck {
	axe, err := os.ReadFile(testtool.File(t, "DEPOT_AXE_CORE", "axe-core (npm package axe-core)"))
	if err != nil {
		t.Fatal(err)
	}
	out := os.Getenv("DEPOT_TEST_ARTIFACTS")
	if out == "" {
		out = t.TempDir()
	} else {
		out = filepath.Join(out, "web-client")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return &pageCheck{t: t, axe: string(axe), out: out}
}

type axeResult struct {
	Violations []struct {
		ID, Impact, Help string
		Nodes            []struct{ Target []any }
	}
}

func (pc *pageCheck) check(ctx context.Context, name string) {
	t := pc.t
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](pc.axe+"\n;true"))
	var res axeResult
	if err == nil {
		res, err = chromedp.Run(ctx, chromedp.Evaluate[axeResult](`axe.run(document, {resultTypes: ["violations"]}).then(r => ({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))}))}))`, chromedp.EvalAwaitPromise))
	}
	if err != nil {
		t.Fatalf("axe on %s: %v", name, err)
	}
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			where, _ := json.Marshal(v.Nodes)
			t.Errorf("%s: accessibility (%s) %s: %s at %s", name, v.Impact, v.ID, v.Help, where)
		}
	}
	for _, size := range []struct {
		w, h int64
	}{{1280, 900}, {390, 844}} {
		err := chromedp.Do(ctx, chromedp.EmulateViewport(size.w, size.h))
		var png []byte
		if err == nil {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
		if err != nil {
			t.Fatalf("screenshot of %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(pc.out, fmt.Sprintf("%s-%d.png", name, size.w)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
}

// A person in headless Chromium signs in, uploads a 20 MB file and a small
// one with the file input, sees both listed with their sizes, downloads
// the large one intact, renames, makes a folder, moves into it, deletes,
// shares a file with a password that a second browser downloads through,
// and signs out, after which the session cookie no longer works. Every
// page passes axe-core and is kept as a screenshot at two widths.
func TestWeb_Browser(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","name":"Pat Partner","password":"correct-horse"}}`)
	ts.createUser(t, `{"user":{"email":"boss@example.com","password":"correct-horse","role":"admin"}}`)
	pc := newPageCheck(t)

	dir := t.TempDir()
	large, small := filepath.Join(dir, "data.bin"), filepath.Join(dir, "notes.txt")
	big := make([]byte, 20<<20+12345)
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	if err := os.WriteFile(large, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(small, []byte("hello from the web client\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	downloads := t.TempDir()
	ctx := chromiumTab(t, downloads)
	text := func(sel string) string {
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(v)
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(context.WithoutCancel(ctx), chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage: %s", what, err, page)
		}
	}

	run("sign in", chromedp.Navigate(ts.URL()+"/"), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	pc.check(ctx, "signin")
	run("sign in", chromedp.SendKeys(chromedp.CSS("#login"), "pat@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse"),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#uploader")))
	pc.check(ctx, "files-empty")

	run("upload", chromedp.SetUploadFiles(chromedp.CSS("#upload-files"), []string{large, small}),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="data.bin"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="notes.txt"]`)))
	if got := text(`tr[data-name="data.bin"] .size`); got != "20.0 MB" {
		t.Errorf("data.bin listed as %q", got)
	}
	if got := text(`tr[data-name="notes.txt"] .size`); got != "26 bytes" {
		t.Errorf("notes.txt listed as %q", got)
	}
	pc.check(ctx, "files")

	got := download(t, ctx, downloads, chromedp.Click(chromedp.CSS(`tr[data-name="data.bin"] a.file`)))
	if fileSHA256(t, got) != fileSHA256(t, large) {
		t.Fatal("the downloaded file differs from the uploaded one")
	}

	run("rename", chromedp.Click(chromedp.CSS(`a[aria-label="Rename or move notes.txt"]`)), chromedp.WaitVisible(chromedp.CSS("#rename-form")))
	pc.check(ctx, "rename")
	run("rename", chromedp.SetValue(chromedp.CSS("#to"), "/renamed.txt"), chromedp.Click(chromedp.CSS("#rename")), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="renamed.txt"]`)))
	run("new folder", chromedp.SendKeys(chromedp.CSS("#folder-name"), "archive"), chromedp.Click(chromedp.CSS("#mkdir")), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="archive"]`)))
	run("move", chromedp.Click(chromedp.CSS(`a[aria-label="Rename or move renamed.txt"]`)), chromedp.WaitVisible(chromedp.CSS("#rename-form")),
		chromedp.SetValue(chromedp.CSS("#to"), "/archive/renamed.txt"), chromedp.Click(chromedp.CSS("#rename")),
		chromedp.WaitVisible(chromedp.CSS(`nav.crumbs [aria-current="location"]`)), // the move shows where the file went
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name="renamed.txt"]`)))
	if got := text(`nav.crumbs [aria-current="location"]`); got != "archive" {
		t.Errorf("after the move the client shows %q, not the archive folder", got)
	}
	run("delete", chromedp.Click(chromedp.CSS(`a[aria-label="Delete renamed.txt"]`)), chromedp.WaitVisible(chromedp.CSS("#delete-form")))
	pc.check(ctx, "delete")
	run("delete", chromedp.Click(chromedp.CSS("#confirm-delete")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if got := text("#listing"); !strings.Contains(got, "This folder is empty.") {
		t.Errorf("after delete the folder shows %q", got)
	}
	listed := ts.do(t, "GET", "/api/files?path=/users/pat-example-com/archive", adminKey, "")
	if strings.Contains(listed.body, "renamed.txt") {
		t.Errorf("the deleted file is still there: %s", listed.body)
	}

	// Share the large file with a password; a second browser, with no
	// session, downloads it through the link.
	run("share", chromedp.Click(chromedp.CSS(`nav.crumbs a`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-name="data.bin"]`)),
		chromedp.Click(chromedp.CSS(`a[aria-label="Share data.bin"]`)), chromedp.WaitVisible(chromedp.CSS("#share-form")))
	pc.check(ctx, "share")
	run("share", chromedp.SendKeys(chromedp.CSS("#share-password"), "link-secret-1"), chromedp.Click(chromedp.CSS("#share")), chromedp.WaitVisible(chromedp.CSS("#share-done")))
	linkURL, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#share-url")))
	if err != nil {
		t.Fatal(err)
	}
	pc.check(ctx, "shared")
	if !strings.HasPrefix(linkURL, ts.URL()+"/s/") {
		t.Fatalf("link URL %q", linkURL)
	}
	otherDir := t.TempDir()
	other := chromiumTab(t, otherDir)
	if err := chromedp.Do(other, chromedp.Navigate(linkURL), chromedp.WaitVisible(chromedp.CSS("#password"))); err != nil {
		t.Fatalf("second browser: %v", err)
	}
	got = download(t, other, otherDir, chromedp.SendKeys(chromedp.CSS("#password"), "link-secret-1"), chromedp.Submit(chromedp.CSS("#password")))
	if fileSHA256(t, got) != fileSHA256(t, large) {
		t.Fatal("the file downloaded through the link differs")
	}

	for _, p := range []string{"links", "messages", "account"} {
		run(p, chromedp.Navigate(ts.URL()+"/web/"+p), chromedp.WaitVisible(chromedp.CSS("main h1")))
		pc.check(ctx, p)
		if got := text("main"); p == "links" && !strings.Contains(got, "/data.bin") {
			t.Errorf("links page: %q", got)
		}
	}

	// Sign out: the cookie the browser had no longer opens anything.
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	var session string
	for _, c := range cookies.Cookies {
		if c.Name == "depot_session" {
			session = c.Value
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v", c.HTTPOnly, c.SameSite)
			}
		}
	}
	run("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form")))
	r := ts.doWith(t, "GET", "/api/files", "", func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "depot_session", Value: session})
	})
	want(t, r, 401)

	// The administrators' overview, as an administrator.
	run("admin", chromedp.SendKeys(chromedp.CSS("#login"), "boss@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse"),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#uploader")), chromedp.Navigate(ts.URL()+"/web/admin"), chromedp.WaitVisible(chromedp.CSS("#audit")))
	pc.check(ctx, "admin")
	if got := text("#audit"); !strings.Contains(got, "user.login") || !strings.Contains(got, "file.uploaded") {
		t.Errorf("overview audit table: %q", got)
	}

	// A refusal mid-upload (the quota) is shown in the server's words
	// beside the file, and nothing is left behind.
	ts.createUser(t, `{"user":{"email":"small@example.com","password":"correct-horse","quota_mb":5}}`)
	run("quota", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin-form")),
		chromedp.SendKeys(chromedp.CSS("#login"), "small@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "correct-horse"),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#uploader")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-files"), []string{large}),
		chromedp.WaitVisible(chromedp.CSS(`#uploader[data-state="failed"]`)))
	if got := text("#upload-list li.refused .status"); !strings.Contains(got, "data.bin") || !strings.Contains(strings.ToLower(got), "quota") {
		t.Errorf("the refused upload says %q", got)
	}
	if got := text("#upload-error"); got == "" {
		t.Error("no summary of the failed upload")
	}
	if r := ts.do(t, "GET", "/api/files?path=/users/small-example-com", adminKey, ""); strings.Contains(r.body, "data.bin") {
		t.Errorf("the refused file is listed: %s", r.body)
	}
}

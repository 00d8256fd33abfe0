package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"depot/internal/testtool"
)

// A real headless Chromium opens the filedrop page at desktop and phone
// widths, chooses two files (one large enough to go in several chunks),
// sends them, sees every progress bar reach 100% and the confirmation, and
// the files arrive intact in the owner's home.
func TestFiledrops_Browser(t *testing.T) {
	chromium := testtool.Path(t, "chromium")
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"browser","title":"Send us your files",
		"owner":"`+ou.ID+`","invalid_extensions":"exe","max_filesize":50}}`), 201)

	dir := t.TempDir()
	small := filepath.Join(dir, "notes.txt")
	large := filepath.Join(dir, "data.bin")
	blocked := filepath.Join(dir, "setup.exe")
	want := map[string][]byte{"notes.txt": []byte("hello from the browser\n"), "data.bin": make([]byte, 20<<20+12345)}
	for i := range want["data.bin"] {
		want["data.bin"][i] = byte(i * 7)
	}
	for name, data := range want {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(blocked, []byte("MZ"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
				chromedp.WindowSize(int(size.w), int(size.h)))
			actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
			defer cancel()
			ctx, cancel := chromedp.NewContext(actx)
			defer cancel()

			text := func(sel string) string {
				v, _ := chromedp.Run(ctx, chromedp.TextContent(sel))
				return v
			}
			err := chromedp.Do(ctx,
				chromedp.EmulateViewport(size.w, size.h),
				chromedp.Navigate(ts.URL()+"/filedrop/browser"),
				chromedp.WaitVisible("#send-form"),
				// The refused file is flagged before any upload.
				chromedp.SetUploadFiles("#files", []string{blocked}),
				chromedp.WaitVisible("#file-list li.refused"),
			)
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			// Pieces of 8 MiB (the 20 MB file goes in three), 32 MiB above 256 MiB.
			sizes, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[20 << 20, 256 << 20, (256 << 20) + 1, 1 << 30].map(depotChunked.pieceSize)`))
			if err != nil || fmt.Sprint(sizes) != fmt.Sprint([]int{8 << 20, 8 << 20, 32 << 20, 32 << 20}) {
				t.Fatalf("piece sizes for 20 MiB, 256 MiB, 256 MiB + 1, 1 GiB: %v (%v)", sizes, err)
			}
			refused := text("#file-list li.refused .status")
			if bar, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#file-list li.refused progress") !== null`)); bar {
				t.Error("the refused file shows a progress bar")
			}
			err = chromedp.Do(ctx,
				chromedp.Click("#file-list li.refused .remove"),
				chromedp.WaitNotPresent("#file-list li.refused"),
				chromedp.SetUploadFiles("#files", []string{small, large}),
				chromedp.SendKeys("#from", "pat@partner.example"),
				chromedp.SendKeys("#subject", "From "+size.name),
				chromedp.Click("#send"),
				chromedp.WaitVisible("#done"),
			)
			if err != nil {
				t.Fatalf("chromium: %v (page error %q)", err, text("#error"))
			}
			total, confirmation := text("#total-text"), text("#done-files")
			bars, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#file-list progress")].map(p => String(p.value))`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(refused, ".exe") {
				t.Errorf("refusal %q does not name .exe", refused)
			}
			if total != "100%" || strings.Join(bars, ",") != "100,100" {
				t.Errorf("progress: total %q, files %v", total, bars)
			}
			for name, data := range want {
				if !strings.Contains(confirmation, name) || !strings.Contains(confirmation, sum(string(data))) {
					t.Errorf("confirmation %q lacks %s and its sha256", confirmation, name)
				}
			}
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.querySelectorAll("#done-files td.checksum")].every(td => td.offsetWidth > 0)`))
			if err != nil || !shown {
				t.Errorf("at %d px the sha256 column is hidden (%v)", size.w, err)
			}
		})
	}

	// Both deliveries arrived intact.
	deliveries, _ := filepath.Glob(filepath.Join(ts.dataDir, "files", "users", ou.ID, "filedrops", "browser", "*_pat-partner-example*"))
	if len(deliveries) == 0 {
		t.Fatal("no delivery in the owner's home")
	}
	n := 0
	for _, d := range deliveries {
		for name, data := range want {
			got, err := os.ReadFile(filepath.Join(d, name))
			if err != nil || string(got) != string(data) {
				t.Fatalf("%s/%s: %d bytes, %v", d, name, len(got), err)
			}
			n++
		}
	}
	if n != 4 {
		t.Fatalf("%d files delivered, want 4: %v", n, fmt.Sprint(deliveries))
	}
}

// The upload page of a shared link is the same uploader: password first,
// then files into the shared folder.
func TestLinks_BrowserUpload(t *testing.T) {
	chromium := testtool.Path(t, "chromium")
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"collector@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/inbox"}`), 201)
	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/inbox","allow_upload":true,"password":"drop-it-here"}}`).Link
	dir := t.TempDir()
	data := map[string]string{"one.txt": "first file\n", "two.csv": "a,b\n1,2\n"}
	var paths []string
	for name, body := range data {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		paths = append(paths, p)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL()+"/s/"+l.ID)); err != nil {
		t.Fatal(err)
	}
	err := chromedp.Do(ctx,
		chromedp.WaitVisible("#password-form"),
		chromedp.SendKeys("#password", "drop-it-here"),
		chromedp.Click("#password-form button"),
		chromedp.WaitVisible("#send-form"),
		chromedp.SetUploadFiles("#files", paths),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#done"),
	)
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.TextContent("#error"))
		t.Fatalf("chromium: %v (page error %q)", err, msg)
	}
	for name, body := range data {
		r := ts.do(t, "GET", "/api/files/content?path=/inbox/"+name, u.APIKey, "")
		if r.status != 200 || r.body != body {
			t.Fatalf("%s: %d %q", name, r.status, r.body)
		}
	}
}

// A password-protected filedrop's page asks for the password, says so
// when it is wrong, and works once it is right.
func TestFiledrops_BrowserPassword(t *testing.T) {
	chromium := testtool.Path(t, "chromium")
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"locked","title":"Locked",
		"owner":"`+ou.ID+`","password":"open-sesame"}}`), 201)
	file := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(file, []byte("behind a password\n"), 0o600)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL()+"/filedrop/locked"),
		chromedp.WaitVisible("#password-form"),
		chromedp.SendKeys("#password", "wrong-one"),
		chromedp.Click("#password-form button"),
		chromedp.WaitVisible("#error"),
	)
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if msg, _ := chromedp.Run(ctx, chromedp.TextContent("#error")); !strings.Contains(msg, "password") {
		t.Fatalf("wrong password message %q", msg)
	}
	err = chromedp.Do(ctx,
		chromedp.SetValue("#password", "open-sesame"),
		chromedp.Click("#password-form button"),
		chromedp.WaitVisible("#send-form"),
		chromedp.SetUploadFiles("#files", []string{file}),
		chromedp.SendKeys("#from", "pat@partner.example"),
		chromedp.Click("#send"),
		chromedp.WaitVisible("#done"),
	)
	if err != nil {
		msg, _ := chromedp.Run(ctx, chromedp.TextContent("#error"))
		t.Fatalf("chromium: %v (page error %q)", err, msg)
	}
	got, _ := filepath.Glob(filepath.Join(ts.dataDir, "files", "users", ou.ID, "filedrops", "locked", "*", "note.txt"))
	if len(got) != 1 {
		t.Fatalf("delivered: %v", got)
	}
}

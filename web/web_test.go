package web_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"depot/web"
)

const hostile = `<script>alert(1)</script>"'&`

// What a stranger can put on a page (a filedrop's title, a shared file's
// name) is escaped, and no page carries inline script or style, which the
// CSP forbids.
func TestPagesEscapeAndHaveNoInlineCode(t *testing.T) {
	var pages []string
	var b bytes.Buffer
	if err := web.RenderFiledrop(&b, web.Filedrop{Name: "drop", Title: hostile, Description: hostile, InvalidExtensions: "exe, bat", MaxFilesize: 5}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ".exe, .bat") {
		t.Error("the filedrop page does not list the refused extensions")
	}
	pages = append(pages, b.String())
	b.Reset()
	if err := web.RenderLink(&b, web.Link{ID: "L1", Name: hostile, Folder: true, Files: []web.LinkFile{{Name: hostile, Size: "1 KB"}}}); err != nil {
		t.Fatal(err)
	}
	pages = append(pages, b.String())
	b.Reset()
	if err := web.RenderClient(&b, "signin", web.Page{Title: "Sign in", Error: hostile, Data: web.Signin{Login: hostile}}); err != nil {
		t.Fatal(err)
	}
	pages = append(pages, b.String())
	if err := web.RenderClient(io.Discard, "no-such-page", web.Page{}); err == nil {
		t.Error("an unknown page rendered")
	}
	for i, p := range pages {
		if strings.Contains(p, "<script>alert") || strings.Contains(p, `"'&<`) {
			t.Errorf("page %d shows the hostile text unescaped", i)
		}
		if !strings.Contains(p, "&lt;script&gt;") {
			t.Errorf("page %d does not show the text at all", i)
		}
		if strings.Contains(p, "<script>") || strings.Contains(p, "<style") || strings.Contains(p, " style=") || strings.Contains(p, " onclick=") {
			t.Errorf("page %d has inline script or style", i)
		}
	}
}

func TestAssets(t *testing.T) {
	rec := httptest.NewRecorder()
	web.Assets().ServeHTTP(rec, httptest.NewRequest("GET", "/assets/client.css", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") || rec.Body.Len() == 0 {
		t.Fatalf("client.css: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	rec = httptest.NewRecorder()
	web.Assets().ServeHTTP(rec, httptest.NewRequest("GET", "/assets/../web.go", nil))
	if rec.Code == 200 {
		t.Fatal("a file outside the assets was served")
	}
	if !strings.Contains(web.CSP, "script-src 'self'") || strings.Contains(web.CSP, "unsafe-inline") {
		t.Fatalf("CSP %q", web.CSP)
	}
}

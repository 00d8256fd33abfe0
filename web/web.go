// Package web holds Depot's browser pages: server-rendered html/template
// pages with their scripts and styles embedded in the binary (no CDN, no
// external fonts), made to run under a strict Content-Security-Policy with
// no inline script or style.
package web

import (
	"embed"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{"exts": exts}).ParseFS(templateFS, "templates/*.html"))

// exts shows a comma-separated extension list as ".pdf, .csv".
func exts(list string) string {
	var out []string
	for _, e := range strings.Split(list, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, "."+e)
		}
	}
	return strings.Join(out, ", ")
}

// CSP is the Content-Security-Policy of every page: only Depot's own
// scripts, styles and requests; no inline code, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Filedrop is what the filedrop page shows.
type Filedrop struct {
	Name              string
	Title             string
	Description       string
	AcceptedFiletypes string
	InvalidExtensions string
	MaxFilesize       int64 // MB
	NeedsPassword     bool
}

// LinkFile is a file offered on a shared link's page.
type LinkFile struct {
	Name string
	Size string
}

// Link is what a shared link's page shows.
type Link struct {
	ID            string
	Name          string
	SharedBy      string
	ExpiresAt     string
	Folder        bool
	Size          string // of a single file
	Files         []LinkFile
	Upload        bool
	MaxMB         int64
	NeedsPassword bool
	Gone          string // why the link no longer works
	Error         string // why the last attempt failed
}

// RenderLink writes a shared link's page.
func RenderLink(w io.Writer, l Link) error {
	return templates.ExecuteTemplate(w, "link.html", l)
}

// RenderFiledrop writes the filedrop page.
func RenderFiledrop(w io.Writer, f Filedrop) error {
	return templates.ExecuteTemplate(w, "filedrop.html", f)
}

// Assets serves the embedded scripts and styles under /assets/.
func Assets() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets")
	return http.StripPrefix("/assets/", http.FileServerFS(sub))
}

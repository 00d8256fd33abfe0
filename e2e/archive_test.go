package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// run runs a Debian tool in dir and returns its output.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(testtool.Path(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// runOnce runs a manual automation on path and returns its run.
func (ts *testServer) runOnce(t *testing.T, body, path string) runBody {
	t.Helper()
	id := ts.createAutomation(t, body)
	b, _ := json.Marshal(map[string]string{"path": path})
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, string(b)), 202)
	return ts.waitRuns(t, id, 1)[0]
}

// TestAutomations_CompressReadByDebianTools: what compress writes,
// unzip, tar and gzip read back intact.
func TestAutomations_CompressReadByDebianTools(t *testing.T) {
	ts := MustOpenServer(t)
	dir := t.TempDir()
	for _, d := range []string{"/out", "/out/batch", "/out/batch/sub"} {
		want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"`+d+`"}`), 201)
	}
	want(t, ts.put(t, adminKey, "/out/report.csv", "date,amount\r\n2026-12-07,10\r\n"), 201)
	want(t, ts.put(t, adminKey, "/out/batch/a.txt", "alpha"), 201)
	want(t, ts.put(t, adminKey, "/out/batch/sub/b.txt", "beta"), 201)
	get := func(p, local string) string {
		t.Helper()
		r := ts.do(t, "GET", "/api/files/content?path="+p, adminKey, "")
		want(t, r, 200)
		f := filepath.Join(dir, local)
		os.WriteFile(f, []byte(r.body), 0o600)
		return f
	}
	for _, c := range []struct{ format, out string }{{"zip", "/out/report.csv.zip"}, {"tar.gz", "/out/report.csv.tar.gz"}, {"gzip", "/out/report.csv.gz"}} {
		run1 := ts.runOnce(t, `{"automation":{"name":"pack","trigger":"manual","retry":{"attempts":1},
			"actions":[{"type":"compress","format":"`+c.format+`","keep_original":true}]}}`, "/out/report.csv")
		if run1.Run.Status != "succeeded" {
			t.Fatalf("%s: %s %q", c.format, run1.Run.Status, run1.Run.Error)
		}
		f := get(c.out, "archive")
		var got string
		switch c.format {
		case "zip":
			got = run(t, dir, "unzip", "-p", f, "report.csv")
		case "tar.gz":
			got = run(t, dir, "tar", "-xzOf", f, "report.csv")
		case "gzip":
			got = run(t, dir, "gzip", "-dc", f)
		}
		if got != "date,amount\r\n2026-12-07,10\r\n" {
			t.Fatalf("%s read back %q", c.format, got)
		}
	}
	// A folder, with what is below it; the original goes (no keep_original).
	r := ts.runOnce(t, `{"automation":{"name":"pack dir","trigger":"manual","retry":{"attempts":1},
		"actions":[{"type":"compress","to":"/archive/"}]}}`, "/out/batch")
	if r.Run.Status != "succeeded" {
		t.Fatalf("folder: %s %q", r.Run.Status, r.Run.Error)
	}
	f := get("/archive/batch.zip", "batch.zip")
	run(t, dir, "unzip", "-q", "-o", f, "-d", filepath.Join(dir, "x"))
	for p, want := range map[string]string{"batch/a.txt": "alpha", "batch/sub/b.txt": "beta"} {
		if b, err := os.ReadFile(filepath.Join(dir, "x", p)); err != nil || string(b) != want {
			t.Fatalf("%s: %q %v", p, b, err)
		}
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path=/out/batch", adminKey, ""), 404)
}

// TestAutomations_DecompressArchivesFromDebianTools: zip and tar.gz made
// by Debian's tools unpack into a folder, each file an upload, and the
// rest of the chain runs on each of them.
func TestAutomations_DecompressArchivesFromDebianTools(t *testing.T) {
	ts := MustOpenServer(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "orders", "2026"), 0o755)
	os.WriteFile(filepath.Join(dir, "orders", "one.csv"), []byte("1"), 0o644)
	os.WriteFile(filepath.Join(dir, "orders", "2026", "two.csv"), []byte("22"), 0o644)
	run(t, dir, "zip", "-qr", "orders.zip", "orders")
	run(t, dir, "tar", "-czf", "orders.tar.gz", "orders")
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/in"}`), 201)
	for _, name := range []string{"orders.zip", "orders.tar.gz"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		want(t, ts.put(t, adminKey, "/in/"+name, string(b)), 201)
		r := ts.runOnce(t, `{"automation":{"name":"unpack","trigger":"manual","retry":{"attempts":1},
			"actions":[{"type":"decompress","to":"/unpacked/`+name+`"},{"type":"copy","to":"/seen/{NAME}"}]}}`, "/in/"+name)
		if r.Run.Status != "succeeded" {
			t.Fatalf("%s: %s %q", name, r.Run.Status, r.Run.Error)
		}
		for p, body := range map[string]string{"/unpacked/" + name + "/orders/one.csv": "1", "/unpacked/" + name + "/orders/2026/two.csv": "22",
			"/seen/one.csv": "1", "/seen/two.csv": "22"} {
			if got := ts.do(t, "GET", "/api/files/content?path="+p, adminKey, ""); got.status != 200 || got.body != body {
				t.Fatalf("%s: %s: %d %q", name, p, got.status, got.body)
			}
		}
		want(t, ts.do(t, "GET", "/api/files/stat?path=/in/"+name, adminKey, ""), 404) // the archive goes
	}
	// Each unpacked file was an upload, audited with its event.
	var uploaded []string
	for _, ev := range ts.events(t) {
		if ev.Event == "file.uploaded" && strings.HasPrefix(ev.Path, "/unpacked/orders.zip/") {
			uploaded = append(uploaded, ev.Path)
		}
	}
	sort.Strings(uploaded)
	if strings.Join(uploaded, ",") != "/unpacked/orders.zip/orders/2026/two.csv,/unpacked/orders.zip/orders/one.csv" {
		t.Fatalf("file.uploaded of the unpacked files: %v", uploaded)
	}
}

// TestAutomations_DecompressRefusesHostileArchives: zip slip, a bomb, too
// many entries, links: the step fails with a message, nothing lands
// outside the folder, and a bomb stops at the limit.
func TestAutomations_DecompressRefusesHostileArchives(t *testing.T) {
	ts := MustOpenServer(t)
	dir := t.TempDir()
	py := testtool.Path(t, "python3")
	script := `import sys, zipfile, io
z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED)
kind = sys.argv[2]
if kind == "slip":
    z.writestr("ok.txt", "fine")
    z.writestr("../../evil.txt", "escaped")
elif kind == "abs":
    z.writestr("/etc/evil.txt", "escaped")
elif kind == "bomb":
    z.writestr("zeros.bin", b"\0" * (64 << 20))
elif kind == "many":
    for i in range(5):
        z.writestr("f%d.txt" % i, "x")
elif kind == "link":
    info = zipfile.ZipInfo("link")
    info.external_attr = (0o120777 << 16)
    z.writestr(info, "/etc/passwd")
z.close()
`
	os.WriteFile(filepath.Join(dir, "mk.py"), []byte(script), 0o600)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/drop"}`), 201)
	for _, c := range []struct{ kind, action, words string }{
		{"slip", `{"type":"decompress"}`, "points outside the folder"},
		{"abs", `{"type":"decompress"}`, "points outside the folder"},
		{"bomb", `{"type":"decompress"}`, "compression bomb"},
		{"bomb", `{"type":"decompress","max_ratio":100000,"max_size_mb":16}`, "more than 16 MiB"},
		{"many", `{"type":"decompress","max_entries":3}`, "more than 3 entries"},
		{"link", `{"type":"decompress"}`, "is a link"},
	} {
		name := c.kind + ".zip"
		cmd := exec.Command(py, filepath.Join(dir, "mk.py"), filepath.Join(dir, name), c.kind)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", c.kind, err, out)
		}
		b, _ := os.ReadFile(filepath.Join(dir, name))
		want(t, ts.put(t, adminKey, "/drop/"+name, string(b), "overwrite=true"), 201)
		r := ts.runOnce(t, `{"automation":{"name":"unpack","trigger":"manual","retry":{"attempts":1},"actions":[`+c.action+`]}}`, "/drop/"+name)
		if r.Run.Status != "failed" || !strings.Contains(r.Run.Error, c.words) {
			t.Fatalf("%s %s: %s %q, want failed saying %q", c.kind, c.action, r.Run.Status, r.Run.Error, c.words)
		}
	}
	for _, p := range []string{"/evil.txt", "/drop/evil.txt", "/etc/evil.txt"} {
		if r := ts.do(t, "GET", "/api/files/stat?path="+p, adminKey, ""); r.status != 404 {
			t.Fatalf("%s exists after a zip slip", p)
		}
	}
	// The bomb stopped at the limit: nothing of 64 MiB was stored.
	if r := ts.do(t, "GET", "/api/files/stat?path=/drop/bomb/zeros.bin", adminKey, ""); r.status != 404 {
		t.Fatalf("the bomb's file: %d %s", r.status, r.body)
	}
	// Bad settings are refused when the automation is saved.
	for _, body := range []string{`{"type":"compress","format":"rar"}`, `{"type":"decompress","to":"relative"}`,
		`{"type":"decompress","max_entries":-1}`, `{"type":"copy","to":"/x","format":"zip"}`} {
		r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"bad","trigger":"manual","actions":[`+body+`]}}`)
		if r.status != 422 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
}

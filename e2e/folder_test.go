package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type folderBody struct {
	Folder struct {
		ID                string   `json:"id"`
		Path              string   `json:"path"`
		AllowedExtensions []string `json:"allowed_extensions"`
		BlockedExtensions []string `json:"blocked_extensions"`
		MaxFileSize       int64    `json:"max_file_size"`
		QuotaMB           int64    `json:"quota_mb"`
		RetentionDays     int      `json:"retention_days"`
	} `json:"folder"`
}

func (ts *testServer) createFolderRule(tb testing.TB, body string) folderBody {
	tb.Helper()
	r := ts.do(tb, "POST", "/admin/folders", adminKey, body)
	want(tb, r, 201)
	var f folderBody
	r.json(tb, &f)
	return f
}

func TestFolders_API(t *testing.T) {
	ts := MustOpenServer(t)
	f := ts.createFolderRule(t, `{"folder":{"path":"/shared/in","allowed_extensions":[".CSV"," txt"],"max_file_size":5,"quota_mb":100,"retention_days":30}}`)
	if !strings.HasPrefix(f.Folder.ID, "fld_") || strings.Join(f.Folder.AllowedExtensions, ",") != "csv,txt" ||
		f.Folder.MaxFileSize != 5 || f.Folder.QuotaMB != 100 || f.Folder.RetentionDays != 30 {
		t.Fatalf("created %+v", f.Folder)
	}
	id := f.Folder.ID
	r := ts.do(t, "PUT", "/admin/folders/"+id, adminKey, `{"folder":{"blocked_extensions":["exe"],"retention_days":0}}`)
	want(t, r, 200)
	var got folderBody
	r.json(t, &got)
	if got.Folder.RetentionDays != 0 || strings.Join(got.Folder.BlockedExtensions, ",") != "exe" || got.Folder.QuotaMB != 100 {
		t.Fatalf("updated %+v", got.Folder)
	}
	r = ts.do(t, "GET", "/admin/folders", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, id) {
		t.Fatalf("list %s", r.body)
	}
	before := ts.do(t, "GET", "/admin/folders/"+id, adminKey, "").body
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
	}{
		"no path":          {"POST", "/admin/folders", `{"folder":{"quota_mb":1}}`, 422},
		"relative path":    {"POST", "/admin/folders", `{"folder":{"path":"shared"}}`, 422},
		"dot-dot path":     {"POST", "/admin/folders", `{"folder":{"path":"/a/../etc"}}`, 422},
		"NUL in path":      {"POST", "/admin/folders", `{"folder":{"path":"/a\u0000b"}}`, 422},
		"duplicate path":   {"POST", "/admin/folders", `{"folder":{"path":"/shared/in"}}`, 422},
		"negative quota":   {"POST", "/admin/folders", `{"folder":{"path":"/x","quota_mb":-1}}`, 422},
		"wildcard ext":     {"POST", "/admin/folders", `{"folder":{"path":"/x","blocked_extensions":["*"]}}`, 422},
		"quota as string":  {"POST", "/admin/folders", `{"folder":{"path":"/x","quota_mb":"10"}}`, 422},
		"unknown field":    {"POST", "/admin/folders", `{"folder":{"path":"/x","color":"red"}}`, 422},
		"change path":      {"PUT", "/admin/folders/" + id, `{"folder":{"path":"/other"}}`, 422},
		"bad retention":    {"PUT", "/admin/folders/" + id, `{"folder":{"retention_days":-2}}`, 422},
		"bad extension":    {"PUT", "/admin/folders/" + id, `{"folder":{"allowed_extensions":["a/b"]}}`, 422},
		"not json":         {"POST", "/admin/folders", `path=/x`, 400},
		"unknown id":       {"GET", "/admin/folders/fld_nope", ``, 404},
		"delete unknown":   {"DELETE", "/admin/folders/fld_nope", ``, 404},
		"not an admin key": {"GET", "/admin/folders", ``, 401},
	} {
		t.Run(name, func(t *testing.T) {
			key := adminKey
			if name == "not an admin key" {
				key = ""
			}
			r := ts.do(t, tc.method, tc.path, key, tc.body)
			want(t, r, tc.status)
			r.errors(t)
		})
	}
	if after := ts.do(t, "GET", "/admin/folders/"+id, adminKey, "").body; after != before {
		t.Fatalf("refused requests changed the rule:\n%s\n%s", before, after)
	}
	want(t, ts.do(t, "DELETE", "/admin/folders/"+id, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/folders/"+id, adminKey, ""), 404)
	ts.createFolderRule(t, `{"folder":{"path":"/shared/in"}}`) // the path is free again
}

// Folder rules apply to everything below the folder, for uploads and for
// moves into it, and a refused upload leaves nothing behind.
func TestFolders_Rules(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"r@example.com"}}`)
	key := u.User.APIKey
	home := "/users/" + u.User.ID
	for _, p := range []string{"/in", "/in/sub", "/small", "/capped", "/loose"} {
		want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"`+p+`"}`), 201)
	}
	ts.createFolderRule(t, `{"folder":{"path":"`+home+`/in","allowed_extensions":["csv","txt"],"blocked_extensions":["txt"]}}`)
	ts.createFolderRule(t, `{"folder":{"path":"`+home+`/small","max_file_size":1}}`)
	ts.createFolderRule(t, `{"folder":{"path":"`+home+`/capped","quota_mb":1}}`)

	want(t, ts.put(t, key, "/in/a.csv", "a,b"), 201)
	want(t, ts.put(t, key, "/in/sub/deep.CSV", "a,b"), 201) // below the folder, any case
	for _, name := range []string{"/in/a.txt", "/in/sub/x.exe", "/in/noext"} {
		r := ts.put(t, key, name, "data")
		want(t, r, 422)
		r.errors(t)
	}
	want(t, ts.put(t, key, "/small/ok.bin", strings.Repeat("s", 1<<20)), 201)
	want(t, ts.put(t, key, "/small/big.bin", strings.Repeat("s", 1<<20+1)), 413)
	want(t, ts.put(t, key, "/capped/one.bin", strings.Repeat("c", 700<<10)), 201)
	want(t, ts.put(t, key, "/capped/two.bin", strings.Repeat("c", 700<<10)), 507)
	want(t, ts.put(t, key, "/capped/one.bin", strings.Repeat("d", 900<<10)), 201) // replacing frees the old size
	want(t, ts.put(t, key, "/loose/two.bin", strings.Repeat("c", 700<<10)), 201)

	// Moves into the folders obey the same rules.
	want(t, ts.put(t, key, "/loose/x.exe", "x"), 201)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/loose/x.exe","to":"/in/x.exe"}`), 422)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/in/a.csv","to":"/in/a.txt"}`), 422)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/loose/two.bin","to":"/capped/two.bin"}`), 507)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/loose/two.bin","to":"/small/two.bin"}`), 200)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/loose","to":"/in/loose"}`), 422)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/in/sub","to":"/in/sub2"}`), 200) // already under the rules

	files := treeFiles(t, filepath.Join(ts.dataDir, "files", "users", u.User.ID))
	wantFiles := []string{"/capped/one.bin", "/in/a.csv", "/in/sub2/deep.CSV", "/loose/x.exe", "/small/ok.bin", "/small/two.bin"}
	if strings.Join(files, " ") != strings.Join(wantFiles, " ") {
		t.Fatalf("files on disk:\n%v\nwant\n%v", files, wantFiles)
	}
	if left := treeFiles(t, filepath.Join(ts.dataDir, "tmp")); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
}

// The retention sweep deletes files older than the nearest rule's days,
// audits each deletion, and frees their usage.
func TestFolders_Retention(t *testing.T) {
	ts := MustOpenServer(t)
	ctx := context.Background()
	for _, p := range []string{"/keep", "/keep/week", "/other"} {
		want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"`+p+`"}`), 201)
	}
	ts.createFolderRule(t, `{"folder":{"path":"/keep","retention_days":2}}`)
	ts.createFolderRule(t, `{"folder":{"path":"/keep/week","retention_days":7}}`)
	old := time.Now().Add(-3 * 24 * time.Hour)
	for _, p := range []string{"/keep/old.txt", "/keep/new.txt", "/keep/week/old.txt", "/other/old.txt"} {
		want(t, ts.put(t, adminKey, p, "12345"), 201)
		if !strings.HasSuffix(p, "new.txt") {
			if err := os.Chtimes(filepath.Join(ts.dataDir, "files", p), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	n, err := ts.files.ExpireFiles(ctx)
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path=/keep/old.txt", adminKey, ""), 404)
	for _, p := range []string{"/keep/new.txt", "/keep/week/old.txt", "/other/old.txt"} {
		want(t, ts.do(t, "GET", "/api/files/stat?path="+p, adminKey, ""), 200)
	}
	ts.audit.Flush()
	r := ts.do(t, "GET", "/admin/audit?event=file.deleted", adminKey, "")
	if !strings.Contains(r.body, `"path":"/keep/old.txt"`) || !strings.Contains(r.body, `"protocol":"system"`) ||
		!strings.Contains(r.body, "retention") {
		t.Fatalf("audit %s", r.body)
	}
	used, err := ts.files.Usage.Usage(ctx, "/keep")
	if err != nil || used != 10 {
		t.Fatalf("usage of /keep %d, %v; want 10", used, err)
	}
}

// A size limit applies to what is stored or moved in, not to files already
// under it: renaming a file that predates a smaller limit still works.
func TestFolders_SizeLimitOnMoves(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"m@example.com"}}`)
	key, home := u.User.APIKey, "/users/"+u.User.ID
	want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"/small"}`), 201)
	ts.createFolderRule(t, `{"folder":{"path":"`+home+`/small","max_file_size":1}}`)
	want(t, ts.put(t, key, "/big.bin", strings.Repeat("b", 2<<20)), 201)
	want(t, ts.do(t, "PUT", "/admin/users/"+u.User.ID, adminKey, `{"user":{"max_file_size":1}}`), 200)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/big.bin","to":"/renamed.bin"}`), 200)
	r := ts.do(t, "POST", "/api/files/rename", key, `{"from":"/renamed.bin","to":"/small/big.bin"}`)
	want(t, r, 413)
	r.errors(t)
	want(t, ts.do(t, "GET", "/api/files/stat?path=/renamed.bin", key, ""), 200)
}

// Extension rules judge the name Windows would save: a name ending in a
// dot or space, with ":" (an NTFS stream) or an invisible format
// character is refused with 400 and the reason, on upload and rename.
// Found by hardening II: with ["exe"] blocked, "evil.exe.", "evil.exe ",
// "evil.exe::$DATA" and "evil.exe"+U+200B were stored (201).
func TestFolders_WindowsNames(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"win@example.com"}}`).User
	ts.createFolderRule(t, `{"folder":{"path":"/users/`+u.ID+`","blocked_extensions":["exe"]}}`)
	for name, says := range map[string]string{
		"evil.exe.":       "ends in a dot or a space",
		"evil.exe ":       "ends in a dot or a space",
		"evil.exe...  ":   "ends in a dot or a space",
		"evil.exe::$DATA": "data stream",
		"evil.exe:x.txt":  "data stream",
		"evil.exe\u200b":  "invisible format character (U+200B)",
		"evil\u2060.exe":  "invisible format character (U+2060)",
	} {
		r := ts.put(t, u.APIKey, "/"+name, "MZ")
		if r.status != 400 || !strings.Contains(r.body, says) {
			t.Errorf("upload %q: %d %s, want 400 saying %s", name, r.status, r.body, says)
		}
		r = ts.do(t, "POST", "/api/files/rename", u.APIKey, fmt.Sprintf(`{"from":"/ok.txt","to":%q}`, "/"+name))
		if r.status != 400 && r.status != 404 {
			t.Errorf("rename to %q: %d %s", name, r.status, r.body)
		}
	}
	want(t, ts.put(t, u.APIKey, "/evil.exe", "MZ"), 422)
	want(t, ts.put(t, u.APIKey, "/ok.txt", "fine"), 201)
	r := ts.do(t, "POST", "/api/files/rename", u.APIKey, `{"from":"/ok.txt","to":"/evil.exe."}`)
	if r.status != 400 {
		t.Errorf("rename to evil.exe.: %d %s", r.status, r.body)
	}
	r = ts.do(t, "GET", "/api/files?path=/", u.APIKey, "")
	if strings.Contains(r.body, "evil") {
		t.Errorf("a refused name was stored: %s", r.body)
	}
}

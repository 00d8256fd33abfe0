package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// seedAttributes reads an attribute table ("name |" then "String |") from
// a seed document: attribute name → the seed's type.
func seedAttributes(t *testing.T, doc string) map[string]string {
	t.Helper()
	attrs := map[string]string{}
	lines := strings.Split(doc, "\n")
	nameLine := regexp.MustCompile(`^([a-z_]+) \|$`)
	typeLine := regexp.MustCompile(`^(String|Integer|Boolean) \|$`)
	for i := 0; i+1 < len(lines); i++ {
		n, ty := nameLine.FindStringSubmatch(lines[i]), typeLine.FindStringSubmatch(lines[i+1])
		if n != nil && ty != nil {
			if _, seen := attrs[n[1]]; !seen {
				attrs[n[1]] = ty[1]
			}
		}
	}
	return attrs
}

// seedExample is one curl example of a seed: the shell text as printed.
type seedExample struct {
	method, path, script string
}

// seedExamples returns a seed's curl examples in order: single curl lines,
// and `cat <<EOF | curl …` with its body up to EOF.
func seedExamples(t *testing.T, doc string) []seedExample {
	t.Helper()
	var out []seedExample
	method := regexp.MustCompile(`-X (\w+)`)
	url := regexp.MustCompile(`https://[a-z.]+(/\S+)`)
	sc := bufio.NewScanner(strings.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "curl -s") {
			continue
		}
		script := line
		if strings.HasPrefix(line, "cat <<EOF") {
			for sc.Scan() {
				script += "\n" + sc.Text()
				if sc.Text() == "EOF" {
					break
				}
			}
		}
		m, u := method.FindStringSubmatch(line), url.FindStringSubmatch(line)
		if m == nil || u == nil {
			t.Fatalf("curl example without -X or URL: %s", line)
		}
		out = append(out, seedExample{method: m[1], path: u[1], script: script})
	}
	return out
}

// jsonType names a decoded JSON value's type as the seeds do.
func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case float64:
		return "Integer"
	case bool:
		return "Boolean"
	}
	return "other"
}

// LiquidFiles' Filedrop admin API (seed 004), replayed verbatim with curl:
// its five examples in order (list, view, create Partner-Drop, update,
// delete) with only the base URL and the key changed. Every answer has
// every attribute of the seed's table with the seed's type, and never a
// password in clear.
func TestSeed004_FiledropAdminVerbatim(t *testing.T) {
	curl := testtool.Path(t, "curl")
	raw, err := os.ReadFile("testdata/seeds/004_8b58d219cae89f48.txt")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	attrs := seedAttributes(t, doc)
	if len(attrs) != 13 {
		t.Fatalf("the seed's attribute table has %d attributes, want 13: %v", len(attrs), attrs)
	}
	examples := seedExamples(t, doc)
	if got := len(examples); got != 5 {
		t.Fatalf("found %d curl examples in seed 004, want 5", got)
	}

	ts := MustOpenServer(t)
	// What the examples assume exists: the owners they name and the
	// filedrop "support" they view, with a password (shown as a marker).
	ts.createUser(t, `{"user":{"email":"joe.user@company.com"}}`)
	ts.createUser(t, `{"user":{"email":"some.local.user@company.com"}}`)
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"support","title":"Support Files",
		"description":"Please upload any required support files.","owner":"joe-user-company-com","expires_after":14,
		"max_filesize":1000,"password":"top secret","authorization":3}}`), 201)

	key := regexp.MustCompile(`--user "[^"]+"`)
	host := regexp.MustCompile(`https://[a-z.]+`)
	for i, ex := range examples {
		script := key.ReplaceAllString(ex.script, `--user "`+adminKey+`:x"`)
		script = host.ReplaceAllString(script, ts.URL())
		// The status, on a line of its own after the body.
		script = strings.Replace(script, "curl -s", `"`+curl+`" -w '\n%{http_code}' -s`, 1)
		code, body := curlRun(t, exec.Command("bash", "-c", script))
		if code < 200 || code > 299 {
			t.Fatalf("example %d (%s %s) answered %d: %s", i+1, ex.method, ex.path, code, body)
		}
		if ex.method == "DELETE" {
			if strings.TrimSpace(body) != "" || code != 200 {
				t.Fatalf("delete answered %d %q, want a blank 200", code, body)
			}
			continue
		}
		var objects []map[string]any
		if strings.HasPrefix(strings.TrimSpace(body), "[") {
			var list []map[string]map[string]any
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("example %d: %v: %s", i+1, err, body)
			}
			for _, w := range list {
				objects = append(objects, w["filedrop"])
			}
		} else {
			var one map[string]map[string]any
			if err := json.Unmarshal([]byte(body), &one); err != nil {
				t.Fatalf("example %d: %v: %s", i+1, err, body)
			}
			objects = append(objects, one["filedrop"])
		}
		if len(objects) == 0 {
			t.Fatalf("example %d (%s %s) answered no filedrop: %s", i+1, ex.method, ex.path, body)
		}
		for _, f := range objects {
			for name, typ := range attrs {
				v, ok := f[name]
				if !ok || jsonType(v) != typ {
					t.Fatalf("example %d (%s %s): attribute %s = %#v, want a %s", i+1, ex.method, ex.path, name, v, typ)
				}
			}
			if pw := f["password"]; pw != "" && pw != "(set)" {
				t.Fatalf("example %d shows a password: %q", i+1, pw)
			}
		}
		switch i {
		case 1:
			if objects[0]["id"] != "support" || objects[0]["password"] != "(set)" {
				t.Fatalf("view: %v", objects[0])
			}
		case 2:
			if objects[0]["id"] != "Partner-Drop" || objects[0]["name"] != "Partner-Drop" || objects[0]["password"] != "" ||
				!strings.HasSuffix(objects[0]["url"].(string), "/filedrop/Partner-Drop") {
				t.Fatalf("create: %v", objects[0])
			}
		case 3:
			if objects[0]["title"] != "New Partner Filedrop Name" || objects[0]["expires_after"] != float64(24) {
				t.Fatalf("update: %v", objects[0])
			}
		}
	}
	want(t, ts.do(t, "GET", "/admin/filedrops/Partner-Drop", adminKey, ""), 404)
}

// A client that GETs a filedrop, changes one field and PUTs the whole
// object back (password marker, id, url and times included) changes that
// field and nothing else; changing a read-only field is a 422 naming it.
func TestFiledrops_ReadModifyWrite(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"owner@example.com"}}`)
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"Invoices","title":"Invoices","owner":"owner-example-com","password":"open-sesame"}}`), 201)
	r := ts.do(t, "GET", "/admin/filedrops/invoices", adminKey, "") // any case finds it
	want(t, r, 200)
	var got map[string]map[string]any
	r.json(t, &got)
	f := got["filedrop"]
	f["title"] = "Invoices 2027"
	body, _ := json.Marshal(map[string]any{"filedrop": f})
	r = ts.do(t, "PUT", "/admin/filedrops/Invoices", adminKey, string(body))
	want(t, r, 200)
	var after map[string]map[string]any
	r.json(t, &after)
	for k, v := range f {
		if k == "updated_at" {
			continue
		}
		if after["filedrop"][k] != v {
			t.Errorf("%s = %v after the round trip, want %v", k, after["filedrop"][k], v)
		}
	}
	// The password marker kept the password.
	_, s := ts.openFiledrop(t, "Invoices", "open-sesame")
	if s.key == "" {
		t.Fatal("the password did not survive the round trip")
	}
	for field, v := range map[string]any{"id": "other", "url": "http://elsewhere/filedrop/x", "created_at": "2020-01-01T00:00:00Z"} {
		changed := map[string]any{}
		for k, x := range f {
			changed[k] = x
		}
		changed[field] = v
		body, _ := json.Marshal(map[string]any{"filedrop": changed})
		r := ts.do(t, "PUT", "/admin/filedrops/Invoices", adminKey, string(body))
		want(t, r, 422)
		if msg := r.errors(t)[0]; !strings.HasPrefix(msg, field+" is read-only") {
			t.Errorf("changing %s: %q, want a message naming it", field, msg)
		}
	}
	// Creating with a field the server sets is refused, naming it.
	r = ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"id":"mine","name":"other","title":"x","owner":"owner-example-com"}}`)
	want(t, r, 422)
	if msg := r.errors(t)[0]; msg != "id is set by the server: leave it out" {
		t.Errorf("create with id: %q", msg)
	}
	want(t, ts.do(t, "GET", "/admin/filedrops/other", adminKey, ""), 404)
	// A second filedrop may not differ only in case.
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"INVOICES","title":"x","owner":"owner-example-com"}}`), 409)
}

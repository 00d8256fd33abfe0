package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"depot/internal/testtool"
)

// readSeed returns a seed document copied into testdata/seeds.
func readSeed(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/seeds/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// curlCall sends one request with curl and returns the status and body.
func curlCall(t *testing.T, method, url, body string, headers ...string) (int, string) {
	t.Helper()
	args := []string{"-s", "-w", "\n%{http_code}", "-X", method}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if body != "" {
		args = append(args, "-H", "Content-Type: application/json", "--data-binary", body)
	}
	return curlRun(t, exec.Command(testtool.Path(t, "curl"), append(args, url)...))
}

// curlRun runs a curl command that writes the status on a last line of
// its own (-w '\n%{http_code}').
func curlRun(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	text := strings.TrimRight(string(out), "\n")
	cut := strings.LastIndex(text, "\n")
	code, _ := strconv.Atoi(text[cut+1:])
	if cut < 0 {
		return code, ""
	}
	return code, text[:cut]
}

// sampleJSON parses a seed's JSON sample: the lines from one starting
// with "{" to the first line that is "}", their "•" bullets removed.
func sampleJSON(t *testing.T, lines []string) (map[string]any, int) {
	t.Helper()
	start := -1
	for i, l := range lines {
		if start < 0 && strings.TrimSpace(l) == "{" {
			start = i
		}
		if start >= 0 && l == "}" {
			text := strings.ReplaceAll(strings.Join(lines[start:i+1], "\n"), "•", "")
			var v map[string]any
			if err := json.Unmarshal([]byte(text), &v); err != nil {
				t.Fatalf("a sample of the seed is not JSON: %v\n%s", err, text)
			}
			return v, i + 1
		}
	}
	return nil, len(lines)
}

// unwrap returns the object an answer carries, in Depot's envelope
// ({"file":{…}}) or bare.
func unwrap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if len(m) == 1 {
		for _, inner := range m {
			if o, ok := inner.(map[string]any); ok {
				return o
			}
		}
	}
	return m
}

// sameJSONType reports whether two decoded JSON values have one type.
func sameJSONType(a, b any) bool {
	switch a.(type) {
	case string:
		_, ok := b.(string)
		return ok
	case float64:
		_, ok := b.(float64)
		return ok
	case bool:
		_, ok := b.(bool)
		return ok
	case map[string]any:
		_, ok := b.(map[string]any)
		return ok
	case []any:
		_, ok := b.([]any)
		return ok
	}
	return a == nil && b == nil
}

// The Dropzone API (seed 002) replayed: every operation's request sample
// sent as the seed prints it, with the API key or the dropzone's token in
// x-api-key as the Dropzone SDK sends them, to Depot's route for it. Every
// answer has the fields of the seed's response sample with the seed's
// types; the seed's {"status","data"} envelope is Depot's own.
func TestSeed002_DropzoneAPI(t *testing.T) {
	doc := readSeed(t, "002_7679961bdd573505.txt")
	lines := strings.Split(doc, "\n")
	// The Dropzone dialect's route for each operation, in the order
	// replayed (the seed's, but the download before the delete that would
	// make it a 404).
	ops := []struct{ title, method, path string }{
		{"Create a new dropzone", "POST", "/dropzones"},
		{"Update a dropzone.", "PUT", "/dropzones/{dz}"},
		{"Get dropzone details", "GET", "/dropzones/{dz}"},
		{"List all my files", "GET", "/dropzones/{dz}/files"},
		{"Request an upload URL", "POST", "/dropzones/{dz}/files"},
		{"Confirm a file upload", "POST", "/files/{file}/confirm"},
		{"Get file details", "GET", "/files/{file}"},
		{"Download a file", "GET", "/files/{file}/download"},
		{"Delete a file", "DELETE", "/files/{file}"},
	}
	if n := strings.Count(doc, "\nResponse samples\n"); n != len(ops) {
		t.Fatalf("seed 002 has %d operations, the replay knows %d", n, len(ops))
	}
	ts := MustOpenServer(t)
	base := ts.URL() + "/dropzone/api/v1"
	var dz, token, file, uploadURL string
	for _, op := range ops {
		at := -1
		for i, l := range lines {
			if l == op.title {
				at = i
			}
		}
		if at < 0 {
			t.Fatalf("seed 002 has no operation %q", op.title)
		}
		section := lines[at:]
		if end := indexLine(section, "Response samples"); end >= 0 {
			section = section[:end]
		}
		var body string
		if i := indexLine(section, "Request samples"); i >= 0 {
			req, _ := sampleJSON(t, section[i:])
			data, _ := json.Marshal(req)
			body = string(data)
		}
		respAt := at + len(section)
		sample, _ := sampleJSON(t, lines[respAt:])

		// The seed's ApiKeyAuth is a Depot API key; its DropzoneAuth the
		// dropzone's token.
		key := token
		if slices.Contains(section, "ApiKeyAuth") {
			key = adminKey
		}
		path := strings.NewReplacer("{dz}", dz, "{file}", file).Replace(op.path)
		status, got := curlCall(t, op.method, base+path, body, "x-api-key: "+key)
		if status < 200 || status > 299 {
			t.Fatalf("%s (%s %s %s) answered %d: %s", op.title, op.method, path, body, status, got)
		}
		if op.title == "Download a file" {
			if got != "" {
				t.Fatalf("the downloaded file has %q, want the 0 bytes uploaded", got)
			}
			continue
		}
		var answer map[string]any
		if err := json.Unmarshal([]byte(got), &answer); err != nil {
			t.Fatalf("%s: %v: %s", op.title, err, got)
		}
		// Every field of the sample, with the sample's type, where the
		// sample has it: {status, data} or the bare file.
		for k, v := range sample {
			if !sameJSONType(v, answer[k]) {
				t.Errorf("%s: %s = %#v, want a value like the seed's %#v", op.title, k, answer[k], v)
			}
		}
		if sample["status"] != nil && answer["status"] != sample["status"] {
			t.Errorf("%s: status %v, want the seed's %v", op.title, answer["status"], sample["status"])
		}
		obj, _ := answer["data"].(map[string]any)
		switch op.title {
		case "Create a new dropzone":
			dz, token = obj["_id"].(string), obj["token"].(string)
			if obj["maxSizeGb"] != float64(1) || obj["maxDurationDays"] != float64(90) || obj["name"] == "" {
				t.Fatalf("create: %s", got)
			}
		case "Request an upload URL":
			file, uploadURL = obj["fileId"].(string), obj["signedUrl"].(string)
			// The upload itself goes to the signed URL, as to S3.
			if status, got := curlCall(t, "PUT", uploadURL, ""); status != 200 {
				t.Fatalf("upload to %s: %d %s", uploadURL, status, got)
			}
		case "Confirm a file upload", "Get file details":
			if answer["_id"] != file || answer["meta"].(map[string]any)["s3Status"] != "uploaded" {
				t.Fatalf("%s: %s", op.title, got)
			}
		case "Delete a file":
			if answer["message"] != "File deleted successfully." {
				t.Fatalf("delete: %s", got)
			}
		}
	}
	// The file is gone; an update grows the dropzone as the seed says,
	// and never shrinks it.
	status, got := curlCall(t, "GET", base+"/files/"+file, "", "x-api-key: "+token)
	if status != 404 || !strings.Contains(got, `"status":"error"`) {
		t.Fatalf("a deleted file answered %d %s", status, got)
	}
	status, got = curlCall(t, "PUT", base+"/dropzones/"+dz, `{"gb":2,"days":120}`, "x-api-key: "+adminKey)
	if obj, _ := unwrapJSON(t, got)["data"].(map[string]any); status != 200 || obj["maxSizeGb"] != float64(2) || obj["maxDurationDays"] != float64(120) {
		t.Fatalf("growing: %d %s", status, got)
	}
	if status, got := curlCall(t, "PUT", base+"/dropzones/"+dz, `{"gb":1}`, "x-api-key: "+adminKey); status != 422 {
		t.Fatalf("shrinking: %d %s", status, got)
	}
}

func isList(v any) bool {
	_, ok := v.([]any)
	return ok
}

func unwrapJSON(t *testing.T, body string) map[string]any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return unwrap(v)
}

func indexLine(lines []string, line string) int {
	for i, l := range lines {
		if l == line {
			return i
		}
	}
	return -1
}

// The Buckets API (seed 003) replayed: create, the seed's own curl for
// the list (Bearer token), PATCH and DELETE, with /v1 as Depot's /admin.
// Every bucket answered has the model's properties with the model's
// types, but for one deliberate difference: created_at is an RFC 3339
// string, as every time in Depot's API, not a Unix number.
func TestSeed003_BucketsAPI(t *testing.T) {
	doc := readSeed(t, "003_bb536ecbcabfdfbd.txt")
	lines := strings.Split(doc, "\n")
	model := map[string]string{}
	for i := 0; i+3 < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == "• Name" && strings.TrimSpace(lines[i+2]) == "Type" {
			model[strings.TrimSpace(lines[i+1])] = strings.TrimSpace(lines[i+3])
		}
	}
	if len(model) != 5 {
		t.Fatalf("the seed's bucket model has %d properties, want 5: %v", len(model), model)
	}
	hasModel := func(what string, b map[string]any) {
		t.Helper()
		for name, typ := range model {
			v, ok := b[name]
			switch s, isString := v.(string); {
			case !ok:
				t.Errorf("%s: no %s in %v", what, name, b)
			case typ == "timestamp":
				if _, err := time.Parse(time.RFC3339, s); !isString || err != nil {
					t.Errorf("%s: %s = %#v, want an RFC 3339 time", what, name, v)
				}
			case typ == "string" && !isString, typ == "boolean" && jsonType(v) != "Boolean":
				t.Errorf("%s: %s = %#v, want a %s", what, name, v, typ)
			}
		}
	}
	opLine := regexp.MustCompile(`^(GET|POST|PATCH|DELETE)(/v1/\S+)$`)
	var starts []int
	for i, l := range lines {
		if opLine.MatchString(l) {
			starts = append(starts, i)
		}
	}
	if len(starts) != 4 {
		t.Fatalf("seed 003 has %d operations, want 4", len(starts))
	}
	ts := MustOpenServer(t)
	auth := "Authorization: Bearer " + adminKey
	var id string
	for n, at := range starts {
		end := len(lines)
		if n+1 < len(starts) {
			end = starts[n+1]
		}
		section := lines[at:end]
		m := opLine.FindStringSubmatch(lines[at])
		method := m[1]
		path := strings.NewReplacer("/v1/", "/admin/", "{bucket_id}", id).Replace(m[2])
		req := indexLine(section, "Request")
		resp := indexLine(section, "Response")
		var status int
		var got string
		switch {
		case req >= 0 && strings.Contains(strings.Join(section[req:resp], "\n"), "curl "):
			// The seed's own curl, with the base URL and the token given.
			script := strings.Join(section[req+1:resp], "\n")
			script = script[strings.Index(script, "curl "):]
			script = strings.NewReplacer("https://api.usebuckets.io/v1/", ts.URL()+"/admin/", "{token}", adminKey,
				"curl ", `"`+testtool.Path(t, "curl")+`" -s -w '\n%{http_code}' `).Replace(script)
			status, got = curlRun(t, exec.Command("bash", "-c", script))
		case req >= 0:
			body, _ := sampleJSON(t, section[req:resp])
			data, _ := json.Marshal(body)
			status, got = curlCall(t, method, ts.URL()+path, string(data), auth)
		default:
			status, got = curlCall(t, method, ts.URL()+path, "", auth)
		}
		if status != 200 && !(method == "POST" && status == 201) {
			t.Fatalf("%s %s answered %d: %s", method, path, status, got)
		}
		if method == "DELETE" {
			if want, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(section[resp+2]), "HTTP ")); status != want {
				t.Fatalf("delete answered %d, the seed %d", status, want)
			}
			continue
		}
		sample, _ := sampleJSON(t, section[resp:])
		if _, list := sample["data"]; list {
			var items []map[string]map[string]any
			if err := json.Unmarshal([]byte(got), &items); err != nil || len(items) == 0 {
				t.Fatalf("list: %v %s", err, got)
			}
			for _, it := range items {
				hasModel("list", it["bucket"])
			}
			continue
		}
		b := unwrapJSON(t, got)
		hasModel(method+" "+path, b)
		switch method {
		case "POST":
			id = b["id"].(string)
			if b["name"] != "Acme Corporation Bucket" || b["active"] != true || !strings.HasPrefix(b["host"].(string), strings.TrimPrefix(id, "buc_")+".") {
				t.Fatalf("create: %s", got)
			}
			// The seed: at least one of name and active, or the call fails.
			if status, got := curlCall(t, "PATCH", ts.URL()+"/admin/buckets/"+id, `{}`, auth); status != 422 {
				t.Fatalf("an empty PATCH answered %d: %s", status, got)
			}
		case "PATCH":
			if b["name"] != "Updated Name" || b["active"] != true {
				t.Fatalf("patch: %s", got)
			}
		}
	}
	if status, _ := curlCall(t, "GET", ts.URL()+"/admin/buckets/"+id, "", auth); status != 404 {
		t.Fatalf("a deleted bucket answered %d", status)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"depot/app"
	"depot/internal/apptest"
	"depot/internal/contract"
	"depot/internal/testtool"
	"depot/server"
	"depot/tlscert"
)

// walkthrough returns the README's curl walkthrough: the first sh block
// after its heading.
func walkthrough(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## A curl walkthrough\n")
	if !ok {
		t.Fatal("README.md has no curl walkthrough")
	}
	_, rest, ok = strings.Cut(rest, "```sh\n")
	script, _, ok2 := strings.Cut(rest, "\n```")
	if !ok || !ok2 {
		t.Fatal("the walkthrough is not in a sh block")
	}
	return script
}

// The README's curl walkthrough runs top to bottom as written against a
// fresh server, with only KEY and D given: every answer is 2xx but those
// the README shows as an error ("# → 409"), in the README's order, every
// command succeeds (bash -e, pipefail), and every exchange is as the
// OpenAPI document says.
func TestREADME_Walkthrough(t *testing.T) {
	a := apptest.Start(t, apptest.Config(t.TempDir()), func(a *app.App) { a.HTTP.Wrap = contract.Check(t, server.OpenAPI()) })
	runWalkthrough(t, a.HTTP.URL())
}

// The same over HTTPS with the self-signed certificate, as "Day one" says:
// D and CURL_CA_BUNDLE set, nothing in the walkthrough changed.
func TestREADME_WalkthroughSelfSignedHTTPS(t *testing.T) {
	data := t.TempDir()
	cfg := apptest.Config(data)
	cfg.HTTP.TLS = "self-signed" // for loopback; public_url follows the listener
	a := apptest.Start(t, cfg, func(a *app.App) { a.HTTP.Wrap = contract.Check(t, server.OpenAPI()) })
	url := a.HTTP.URL()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("the server answers at %s, want https", url)
	}
	runWalkthrough(t, url, "CURL_CA_BUNDLE="+filepath.Join(data, tlscert.SelfSignedCert))
}

// runWalkthrough runs the walkthrough against the server at d with the
// environment env added.
func runWalkthrough(t *testing.T, d string, env ...string) {
	t.Helper()
	runScript(t, walkthrough(t), d, env...)
}

// runScript runs script, the walkthrough or a variant of it, as
// runWalkthrough does.
func runScript(t *testing.T, script, d string, env ...string) {
	t.Helper()
	for _, tool := range []string{"bash", "curl", "jq", "ssh-keygen"} {
		testtool.Path(t, tool)
	}
	var expected []string
	for _, m := range regexp.MustCompile(`# → ([45]\d\d)\b`).FindAllStringSubmatch(script, -1) {
		expected = append(expected, m[1])
	}
	dir := t.TempDir()
	statuses := filepath.Join(dir, "statuses")
	// Every curl of the script writes its answer's status to the log.
	preamble := `set -euo pipefail
curl() {
	local call="$*"; call=${call//$'\n'/ }
	command curl -w "%{stderr}HTTP %{http_code} ${call//%/%%}\n" "$@" 2>>"$STATUSES"
}
`
	path := filepath.Join(dir, "walkthrough.sh")
	if err := os.WriteFile(path, []byte(preamble+script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", path)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "KEY="+apptest.AdminKey, "D="+d, "STATUSES="+statuses, "TMPDIR="+dir), env...)
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(statuses)
	if err != nil {
		t.Fatalf("the walkthrough stopped: %v\n%s\nstatuses:\n%s", err, out, log)
	}
	var got []string
	calls := 0
	for _, line := range strings.Split(string(log), "\n") {
		code, call, ok := strings.Cut(strings.TrimPrefix(line, "HTTP "), " ")
		if !strings.HasPrefix(line, "HTTP ") || !ok {
			if strings.TrimSpace(line) != "" {
				t.Errorf("curl said: %s", line)
			}
			continue
		}
		calls++
		if code[0] != '2' {
			got = append(got, code)
			t.Logf("%s ← %s", code, call)
		}
	}
	// What the walkthrough fetched is what it sent.
	work, _ := filepath.Glob(filepath.Join(dir, "tmp.*"))
	if len(work) != 1 {
		t.Fatalf("the walkthrough's folder: %v", work)
	}
	for got, sent := range map[string]string{"downloads/report.csv": "report.csv", "q3.pdf": "nov.pdf"} {
		a, errA := os.ReadFile(filepath.Join(work[0], got))
		b, errB := os.ReadFile(filepath.Join(work[0], sent))
		if errA != nil || errB != nil || len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s (%v) is not the %s sent (%v)", got, errA, sent, errB)
		}
	}
	if csv, err := os.ReadFile(filepath.Join(work[0], "audit.csv")); err != nil || !strings.Contains(string(csv), "user.created") {
		t.Errorf("audit.csv has no user.created: %v\n%s", err, csv)
	}
	if calls < 60 {
		t.Fatalf("only %d requests were made; the walkthrough has more\n%s", calls, out)
	}
	if strings.Join(got, " ") != strings.Join(expected, " ") {
		t.Fatalf("answers that were not 2xx: %v; the README shows %v\n%s\n%s", got, expected, out, log)
	}
}

// The systemd unit the README shows is the one the package installs.
func TestREADME_SystemdUnitIsThePackages(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("packaging/depot.service")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "**systemd** (`packaging/depot.service`")
	_, rest, ok2 := strings.Cut(rest, "```ini\n")
	shown, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md shows no systemd unit")
	}
	if shown != string(unit) {
		t.Errorf("the README's unit differs from packaging/depot.service:\n%s", shown)
	}
}

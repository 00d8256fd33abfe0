package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"depot/internal/testpeer"
)

// Two `depot serve` processes share one PostgreSQL database, behind a
// TCP balancer for SFTP, set up both ways the README offers: one data
// directory on a shared filesystem, or data directories of their own with
// the storage root on an S3 store (VersityGW). What a partner and an
// administrator see: files uploaded through either node are on both and
// run an automation exactly once each; a web session signed in on one
// works on the other and ends on both; when a node is killed with uploads
// in flight, every acknowledged upload is there and audited, its queued
// runs finish on the other node, and partners reconnect through the
// balancer; a schedule fires once per tick; failed sign-ins on both nodes
// count toward one ban, which holds on both. On S3, also what that setup promises (twoNodes.checkS3).
func TestTwoNodes_ShareOneDatabase(t *testing.T) {
	for _, onS3 := range []bool{false, true} {
		t.Run(map[bool]string{false: "shared_data_directory", true: "storage_root_on_S3"}[onS3], func(t *testing.T) {
			twoNodesShareOneDatabase(t, onS3)
		})
	}
}

func twoNodesShareOneDatabase(t *testing.T, onS3 bool) {
	pair := startTwoNodes(t, onS3, "DEPOT_DATABASE_DRIVER=postgres", "DEPOT_DATABASE_DSN="+testpeer.PostgresDSN(t),
		"DEPOT_DATABASE_SHARED=true", "DEPOT_DEFENDER_MAX_FAILURES=3", "DEPOT_AUTOMATION_WORKERS=2",
		"DEPOT_SFTP_SYNC_UPLOADS=true") // an acknowledged SFTP upload is durable, and its record
	a, b := pair.a, pair.b
	front := testpeer.Balance(t, a.sftp, b.sftp)
	admin := []string{"--user", e2eAdminKey + ":x"}
	api := func(node *depotProcess, want int, args ...string) string {
		t.Helper()
		return callNode(t, node, want, args...)
	}
	body := api(a, 201, append(admin, "-d", `{"user":{"email":"partner@example.com","username":"partner","password":"correct-horse"}}`, "/admin/users")...)
	var created struct {
		User struct {
			ID     string
			APIKey string `json:"api_key"`
			Home   string
		}
	}
	json.Unmarshal([]byte(body), &created)
	home := created.User.Home
	partner := []string{"--user", created.User.APIKey + ":x"}
	hooks := newHookCounter(t)
	body = api(b, 201, append(admin, "-d", `{"automation":{"name":"tell","trigger":"event","events":["file.uploaded"],`+
		`"actions":[{"type":"webhook","url":"`+hooks.server.URL+`"}]}}`, "/admin/automations")...)
	var au struct{ Automation struct{ ID string } }
	json.Unmarshal([]byte(body), &au)

	// 200 uploads in 20 sessions through the balancer: 10 on each node.
	var keys sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for s := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := partnerSFTP(t, front, &keys)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range 10 {
				if err := putFile(c, fmt.Sprintf("/f-%02d-%d.csv", s, i), fmt.Sprintf("session %d file %d\n", s, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	keys.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("partners were shown %d host keys through the balancer; want the one both nodes share", n)
	}
	// Each file is on both nodes, by HTTP.
	for _, node := range []*depotProcess{a, b} {
		var list []struct{ File struct{ Name string } }
		json.Unmarshal([]byte(api(node, 200, append(partner, "/api/files?path=/")...)), &list)
		if len(list) != 200 {
			t.Fatalf("%s lists %d files; want 200", node.url, len(list))
		}
	}
	if got := api(b, 200, append(partner, "/api/files/content?path=/f-07-3.csv")...); got != "session 7 file 3\n" {
		t.Fatalf("downloaded through b: %q", got)
	}
	// ... and ran the automation once: 200 runs, on both nodes.
	runs := waitRuns(t, a, au.Automation.ID, 200)
	nodes := map[string]bool{}
	for _, r := range runs {
		nodes[r.Node] = true
	}
	if len(runs) != 200 || len(nodes) != 2 {
		t.Fatalf("%d runs on %d nodes; want 200 on 2", len(runs), len(nodes))
	}
	for s := range 20 {
		for i := range 10 {
			if p := fmt.Sprintf("%s/f-%02d-%d.csv", home, s, i); hooks.count(p) != 1 {
				t.Fatalf("%s ran the automation %d times; want once", p, hooks.count(p))
			}
		}
	}

	// A schedule, ticking on both nodes, fires once per tick: no two of
	// its runs are of one tick (a tick's run is due at its tick).
	ticker := newHookCounter(t)
	body = api(a, 201, append(admin, "-d", `{"automation":{"name":"tick","trigger":"schedule","schedule":"@every 1s",`+
		`"actions":[{"type":"webhook","url":"`+ticker.server.URL+`"}]}}`, "/admin/automations")...)
	var tick struct{ Automation struct{ ID string } }
	json.Unmarshal([]byte(body), &tick)
	ticks := waitRuns(t, b, tick.Automation.ID, 4)
	api(b, 200, append(admin, "-X", "DELETE", "/admin/automations/"+tick.Automation.ID)...)
	seen := map[string]string{}
	for _, r := range ticks {
		if other, ok := seen[r.NotBefore]; ok {
			t.Fatalf("runs %s and %s of the tick %s", other, r.ID, r.NotBefore)
		}
		seen[r.NotBefore] = r.ID
	}

	if onS3 {
		pair.checkS3(t, created.User.ID, home, 200, partner)
	}

	webSessionOnBoth(t, a, b)
	acked := killWithUploadsInFlight(t, a, hooks)

	// Every acknowledged upload is there, through b, and in the audit log.
	for _, p := range acked {
		api(b, 200, append(partner, "/api/files/stat?path="+url.QueryEscape(p))...)
		audit := api(b, 200, append(admin, "/admin/audit?event=file.uploaded&path="+url.QueryEscape(home+p))...)
		if !strings.Contains(audit, `"path":"`+home+p+`"`) {
			t.Fatalf("acknowledged upload %s is not in the audit log: %s", p, audit)
		}
	}
	// a's queued runs finish on b.
	hooks.release()
	for _, p := range acked {
		for hooks.count(home+p) == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, r := range waitRuns(t, b, au.Automation.ID, 200+len(acked)) {
		if r.Status != "succeeded" {
			t.Errorf("run %s on %s: %s", r.ID, r.Node, r.Status)
		}
	}
	// Partners reconnect through the balancer, to b.
	c, err := partnerSFTP(t, front, &keys)
	if err != nil {
		t.Fatalf("reconnect through the balancer: %v", err)
	}
	if err := putFile(c, "/after.csv", "after\n"); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Failed sign-ins count toward one ban on whichever node they land
	// (two on a, one on b: 3, the limit), and the ban holds on the other
	// node (a here: start it again on its data directory first).
	a = pair.again()
	for _, node := range []*depotProcess{a, a, b} {
		curl(t, "--user", "not-a-key:x", node.url+"/account")
	}
	if code, body := curl(t, append(partner, b.url+"/account")...); code != 403 || !strings.Contains(body, "banned") {
		t.Fatalf("b after the third failure, counted with a's two: %d %s; want banned", code, body)
	}
	for {
		code, body := curl(t, append(partner, a.url+"/account")...)
		if code == 403 && strings.Contains(body, "banned") {
			break
		} else if code != 200 {
			t.Fatalf("a while b bans: %d %s", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type runSeen struct {
	ID, Status, Node string
	NotBefore        string `json:"not_before"`
}

// waitRuns waits until automation id has n finished runs on node and
// returns them.
func waitRuns(t *testing.T, node *depotProcess, id string, n int) []runSeen {
	t.Helper()
	for {
		code, body := curl(t, "--user", e2eAdminKey+":x", node.url+"/admin/automations/"+id+"/runs?limit=1000")
		if code != 200 {
			t.Fatalf("runs: %d %s", code, body)
		}
		var list []struct{ Run runSeen }
		json.Unmarshal([]byte(body), &list)
		var out []runSeen
		for _, r := range list {
			if r.Run.Status == "succeeded" || r.Run.Status == "failed" {
				out = append(out, r.Run)
			}
		}
		if len(out) >= n {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// webSessionOnBoth signs in on a, uses the session on b, signs out on b
// and finds it ended on a.
func webSessionOnBoth(t *testing.T, a, b *depotProcess) {
	t.Helper()
	jar, _ := cookiejar.New(nil) // cookies go by host, not port: one browser for both
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string) {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	post := func(u string, form url.Values) int {
		resp, err := browser.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	_, page := get(a.url + "/")
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page: %s", page)
	}
	if code := post(a.url+"/web/login", url.Values{"csrf": {m[1]}, "login": {"partner"}, "password": {"correct-horse"}}); code != http.StatusSeeOther {
		t.Fatalf("sign in on a: %d", code)
	}
	code, page := get(b.url + "/web/files")
	if code != 200 || !strings.Contains(page, "f-07-3.csv") {
		t.Fatalf("the session signed in on a, on b: %d", code)
	}
	m = csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on b's files page")
	}
	au, _ := url.Parse(a.url)
	kept := jar.Cookies(au) // what a copy of the cookie would send
	if code := post(b.url+"/web/logout", url.Values{"csrf": {m[1]}}); code != http.StatusSeeOther {
		t.Fatalf("sign out on b: %d", code)
	}
	req, _ := http.NewRequest("GET", a.url+"/web/files", nil)
	for _, c := range kept {
		req.AddCookie(c)
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(kept) == 0 || resp.StatusCode == 200 {
		t.Fatalf("a session signed out on b still works on a (%d, %d cookies)", resp.StatusCode, len(kept))
	}
}

// killWithUploadsInFlight uploads through a from four sessions, kills it
// with SIGKILL while they upload and runs wait (the webhook receiver
// held), and returns the paths whose upload a acknowledged.
func killWithUploadsInFlight(t *testing.T, a *depotProcess, hooks *hookCounter) []string {
	t.Helper()
	hooks.hold()
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		keys  sync.Map
	)
	enough := make(chan struct{})
	var once sync.Once
	for s := range 4 {
		c, err := partnerSFTP(t, a.sftp, &keys)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			for i := 0; ; i++ {
				p := fmt.Sprintf("/inflight-%d-%d.csv", s, i)
				if putFile(c, p, strings.Repeat("x", 64<<10)) != nil {
					return // a is gone
				}
				mu.Lock()
				acked = append(acked, p)
				if len(acked) >= 20 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		}()
	}
	<-enough
	a.cmd.Process.Kill()
	<-a.done
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(acked)
}

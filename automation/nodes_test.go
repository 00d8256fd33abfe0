package automation_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/core"
	"depot/internal/coretest"
	"depot/internal/testpeer"
	"depot/mft"
)

func TestMain(m *testing.M) { testpeer.PostgresMain(m) }

// twoNodes starts two nodes on one PostgreSQL database (a reached at
// dsnA, b at dsnB: the same database, perhaps through a relay), each with
// its own data directory and the same secret.key, adopting a dead node's
// work every 50 ms; each edit edits both before they start.
func twoNodes(t *testing.T, dsnA, dsnB string, edit ...func(*core.Services)) (a, b *core.Services) {
	t.Helper()
	edit = append(edit, func(s *core.Services) { s.Engine.AdoptEvery = 50 * time.Millisecond })
	cfg := coretest.Config(t.TempDir())
	cfg.Database.Driver, cfg.Database.DSN, cfg.Database.Shared = "postgres", dsnA, true
	a = coretest.Start(t, cfg, edit...)
	key, err := os.ReadFile(filepath.Join(cfg.Data.Dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = coretest.Config(t.TempDir())
	cfg.Database.Driver, cfg.Database.DSN, cfg.Database.Shared = "postgres", dsnB, true
	if err := os.WriteFile(filepath.Join(cfg.Data.Dir, "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	b = coretest.Start(t, cfg, edit...)
	return a, b
}

// receiver counts the webhook action's POSTs by run id, each after gate
// (when given) returns.
type receiver struct {
	mu   sync.Mutex
	runs map[string]int
	srv  *httptest.Server
}

func newReceiver(t *testing.T, gate func()) *receiver {
	rc := &receiver{runs: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				Run string `json:"run"`
			} `json:"data"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &body) != nil || body.Data.Run == "" {
			http.Error(w, "no run", http.StatusBadRequest)
			return
		}
		if gate != nil {
			gate()
		}
		rc.mu.Lock()
		rc.runs[body.Data.Run]++
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) counts() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.runs))
	for k, v := range rc.runs {
		out[k] = v
	}
	return out
}

// Files uploaded through two nodes run an event automation once each:
// 200 uploads, 200 runs, 200 POSTs, each run on the node the file came in
// through.
func TestNodes_EventRunsOnceAcrossNodes(t *testing.T) {
	dsn := testpeer.PostgresDSN(t)
	a, b := twoNodes(t, dsn, dsn)
	rc := newReceiver(t, nil)
	au := create(t, a, &mft.Automation{Name: "tell", Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
		Actions: []mft.Action{{Type: "webhook", URL: rc.srv.URL}}})
	for !b.Engine.Knows(au.ID) { // b heard of it through the database
		time.Sleep(10 * time.Millisecond)
	}
	joe := coretest.AddUser(t, a, "joe")
	const n = 200
	var wg sync.WaitGroup
	for i, node := range []*core.Services{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range n / 2 {
				upload(t, node, joe, fmt.Sprintf("/%d-%d.csv", i, j), "x")
			}
		}()
	}
	wg.Wait()
	runs := finished(t, a, au.ID, n)
	byNode := map[string]int{}
	for _, r := range runs {
		if r.Status != mft.RunSucceeded {
			t.Errorf("run %s: %s (%s)", r.ID, r.Status, r.Error)
		}
		byNode[r.Node]++
	}
	if len(runs) != n || byNode[a.DB.Node()] != n/2 || byNode[b.DB.Node()] != n/2 {
		t.Fatalf("%d runs by node %v; want %d on each of %s and %s", len(runs), byNode, n/2, a.DB.Node(), b.DB.Node())
	}
	got := rc.counts()
	for _, r := range runs {
		if got[r.ID] != 1 {
			t.Errorf("run %s posted %d times", r.ID, got[r.ID])
		}
	}
	if len(got) != n {
		t.Fatalf("%d runs posted; want %d", len(got), n)
	}
}

// A schedule on two nodes fires once per tick: both nodes' clocks reach
// each second, one of them claims it.
func TestNodes_ScheduleFiresOncePerTick(t *testing.T) {
	dsn := testpeer.PostgresDSN(t)
	a, b := twoNodes(t, dsn, dsn)
	rc := newReceiver(t, nil)
	au := create(t, a, &mft.Automation{Name: "every second", Trigger: mft.TriggerSchedule, Schedule: "@every 1s",
		Actions: []mft.Action{{Type: "webhook", URL: rc.srv.URL}}})
	for !b.Engine.Knows(au.ID) {
		time.Sleep(10 * time.Millisecond)
	}
	runs := finished(t, a, au.ID, 6)
	ticks := map[time.Time]string{}
	nodes := map[string]bool{}
	for _, r := range runs {
		if other, ok := ticks[r.NotBefore]; ok { // a tick run is due at its tick
			t.Errorf("runs %s and %s of the tick %s", other, r.ID, r.NotBefore)
		}
		ticks[r.NotBefore] = r.ID
		nodes[r.Node] = true
	}
	for id, n := range rc.counts() {
		if n != 1 {
			t.Errorf("run %s posted %d times", id, n)
		}
	}
	t.Logf("%d ticks fired on %d node(s)", len(runs), len(nodes))
}

// A node cut off from the database with runs in its queue is seen gone by
// the other, which finishes them: every run ends, succeeded, the adopted
// ones on the node that adopted them.
func TestNodes_DeadNodesRunsFinishElsewhere(t *testing.T) {
	dsn := testpeer.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	network := testpeer.Relay(t, port)
	u.Host = "127.0.0.1:" + strconv.Itoa(network.Port)
	a, b := twoNodes(t, u.String(), dsn, func(s *core.Services) { s.Engine.Workers = 1 })
	release := make(chan struct{})
	var first atomic.Bool
	stuck := make(chan struct{})
	rc := newReceiver(t, func() {
		if first.CompareAndSwap(false, true) { // a's first run hangs
			close(stuck)
			<-release
		}
	})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	au := create(t, a, &mft.Automation{Name: "tell", Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
		Actions: []mft.Action{{Type: "webhook", URL: rc.srv.URL}}})
	joe := coretest.AddUser(t, a, "joe")
	const n = 10
	for i := range n {
		upload(t, a, joe, fmt.Sprintf("/%d.csv", i), "x")
	}
	<-stuck
	network.Down() // a is gone to the database, and so to b
	runs := finished(t, b, au.ID, n)
	close(release)
	for _, r := range runs {
		if r.Status != mft.RunSucceeded || r.Node != b.DB.Node() {
			t.Errorf("run %s: %s on %q (%s); want succeeded on %s", r.ID, r.Status, r.Node, r.Error, b.DB.Node())
		}
	}
	got := rc.counts()
	for _, r := range runs {
		if got[r.ID] == 0 {
			t.Errorf("run %s never posted", r.ID)
		}
	}
}

// Two nodes check an expectation's window at once: it is marked missing
// once, and announced once; a file counted by each node is kept by both.
func TestNodes_ExpectationCheckedOnce(t *testing.T) {
	var now atomic.Pointer[time.Time]
	set := func(s string) {
		tm, _ := time.Parse(time.RFC3339, s)
		now.Store(&tm)
	}
	set("2026-12-09T10:05:00Z")
	clock := func(s *core.Services) { s.Engine.Now = func() time.Time { return *now.Load() } }
	dsn := testpeer.PostgresDSN(t)
	a, b := twoNodes(t, dsn, dsn, clock)
	ctx := t.Context()
	x := &mft.Expectation{Name: "orders", Enabled: true, Path: "/acme", Pattern: "orders*.csv", From: "10:00", To: "11:00", MinCount: 2}
	if err := a.Engine.CreateExpectation(ctx, x); err != nil {
		t.Fatal(err)
	}
	for i, node := range []*core.Services{a, b} { // one file through each: both count
		node.Engine.Publish(mft.Event{Event: mft.EventFileUploaded, Status: mft.StatusOK, Path: fmt.Sprintf("/acme/orders-%d.csv", i), Size: 10})
	}
	got, err := a.Engine.Expectations.FindExpectation(ctx, x.ID)
	if err != nil || len(got.History) != 1 || len(got.History[0].Files) != 2 || got.History[0].Status != mft.WindowOnTime {
		t.Fatalf("after a file through each node: %+v, %v", got.History, err)
	}

	y := &mft.Expectation{Name: "invoices", Enabled: true, Path: "/acme", Pattern: "inv*.pdf", From: "10:00", To: "11:00", MinCount: 1}
	if err := a.Engine.CreateExpectation(ctx, y); err != nil {
		t.Fatal(err)
	}
	set("2026-12-09T11:01:00Z")
	var wg sync.WaitGroup
	for _, node := range []*core.Services{a, b, a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); node.Engine.CheckExpectations(ctx) }()
	}
	wg.Wait()
	if err := b.AuditLog.Flush(); err != nil {
		t.Fatal(err)
	}
	if missed := coretest.Events(t, a, mft.EventExpectationMissed); len(missed) != 1 || missed[0].Target != y.ID {
		t.Fatalf("%d expectation.missed events; want one, of %s", len(missed), y.ID)
	}
}

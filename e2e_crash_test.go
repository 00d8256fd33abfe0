package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Every upload the client was told succeeded has its file.uploaded record
// after a kill -9 right behind it. Found by the hardening review: of 249
// acknowledged uploads, only 244 records survived the 100 ms audit batch.
func TestEndToEnd_AcknowledgedUploadsAuditedAfterSIGKILL(t *testing.T) {
	data := t.TempDir()
	p := startDepot(t, data)
	do := func(method, url, key, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.SetBasicAuth(key, "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do("POST", p.url+"/admin/users", e2eAdminKey, `{"user":{"email":"crash@example.com"}}`)
	if code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	var u struct {
		User struct {
			ID     string
			APIKey string `json:"api_key"`
		}
	}
	json.Unmarshal([]byte(body), &u)

	// Eight clients upload until the process is killed after the 200th
	// acknowledgement; every 201 is remembered.
	var mu sync.Mutex
	acked := map[string]bool{}
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				name := fmt.Sprintf("/w%d-%04d.txt", w, i)
				code, _ := do("PUT", p.url+"/api/files/content?path="+name, u.User.APIKey, "acknowledged")
				if code != 201 {
					continue // cut off by the kill
				}
				mu.Lock()
				acked["/users/"+u.User.ID+name] = true
				n := len(acked)
				mu.Unlock()
				if n >= 200 {
					once.Do(func() {
						p.cmd.Process.Kill()
						<-p.done
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()

	p = startDepot(t, data)
	code, body = do("GET", p.url+"/admin/audit?event=file.uploaded&limit=1000&user="+u.User.ID, e2eAdminKey, "")
	if code != 200 {
		t.Fatalf("audit: %d %s", code, body)
	}
	var events []struct{ Event struct{ Path string } }
	json.Unmarshal([]byte(body), &events)
	recorded := map[string]bool{}
	for _, e := range events {
		recorded[e.Event.Path] = true
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for p := range acked {
		if !recorded[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 || len(acked) < 200 {
		t.Fatalf("%d of %d acknowledged uploads have no file.uploaded record after kill -9: %v", len(missing), len(acked), missing)
	}
}

// DEPOT_DEBUG_LISTEN serves pprof on a loopback address, for diagnosis
// and bench/soak.sh.
func TestEndToEnd_DebugListen(t *testing.T) {
	addr := freePort(t)
	startDepot(t, t.TempDir(), "DEPOT_DEBUG_LISTEN="+addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "goroutine profile: total ") {
		t.Fatalf("pprof: %d %.100s", resp.StatusCode, b)
	}
}

// Command webhooklat measures event-to-webhook latency: it receives
// Depot's webhooks on a loopback port, uploads small files at a steady
// rate through the HTTP API, and reports, for each upload, the time from
// the upload's 201 to the webhook's arrival (p50, p99, max).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "Depot's base URL")
	admin := flag.String("key", "", "administrator API key")
	rate := flag.Int("rate", 100, "uploads per second")
	seconds := flag.Int("seconds", 10, "how long to upload")
	flag.Parse()

	var mu sync.Mutex
	done := map[string]time.Time{}    // path → upload answered
	arrived := map[string]time.Time{} // path → webhook arrived
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		var ev struct{ Data struct{ Path string } }
		json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		arrived[ev.Data.Path] = now
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))

	call := func(method, path, key, body string) string {
		req, _ := http.NewRequest(method, *url+path, strings.NewReader(body))
		req.SetBasicAuth(key, "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			log.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return string(out)
	}
	var u struct {
		User struct {
			ID     string `json:"id"`
			APIKey string `json:"api_key"`
		} `json:"user"`
	}
	json.Unmarshal([]byte(call("POST", "/admin/users", *admin, `{"user":{"username":"latency"}}`)), &u)
	call("POST", "/admin/webhooks", *admin, `{"webhook":{"url":"http://`+ln.Addr().String()+`/","events":["file.uploaded"]}}`)

	n := *rate * *seconds
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for i := range n {
		<-tick.C
		wg.Go(func() {
			name := fmt.Sprintf("/f%06d.txt", i)
			req, _ := http.NewRequest("PUT", *url+"/api/files/content?path="+name, strings.NewReader("latency probe"))
			req.SetBasicAuth(u.User.APIKey, "x")
			resp, err := client.Do(req)
			if err != nil {
				log.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			at := time.Now()
			if resp.StatusCode != 201 {
				log.Fatalf("upload: %d", resp.StatusCode)
			}
			mu.Lock()
			done["/users/"+u.User.ID+name] = at
			mu.Unlock()
		})
	}
	wg.Wait()
	for {
		mu.Lock()
		got := len(arrived)
		mu.Unlock()
		if got >= n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lat []time.Duration
	for p, d := range done {
		a, ok := arrived[p]
		if !ok {
			log.Fatalf("no webhook for %s", p)
		}
		lat = append(lat, max(a.Sub(d), 0)) // the webhook may beat the 201
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
	fmt.Fprintf(os.Stdout, "%d uploads at %d/s: upload answered → webhook received p50 %v  p99 %v  max %v\n",
		n, *rate, q(0.5).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

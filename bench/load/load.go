// Package load drives N requests with C concurrent clients for the bench
// commands.
package load

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one run did.
type Result struct {
	N, Failed int
	Elapsed   time.Duration
}

// PerSecond is the rate of requests over the run.
func (r Result) PerSecond() float64 { return float64(r.N) / r.Elapsed.Seconds() }

// Run sends n requests, built by req(i) for i in 1..n, from c concurrent
// clients, and counts those that fail or do not answer want.
func Run(n, c, want int, req func(i int) *http.Request) Result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				resp, err := client.Do(req(i))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return Result{N: n, Failed: int(failed.Load()), Elapsed: time.Since(start)}
}

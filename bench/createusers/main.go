// Command createusers creates N users through POST /admin/users with C
// concurrent clients and prints the rate, for bench/api.sh.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "depot base URL")
	key := flag.String("key", os.Getenv("DEPOT_API_KEY"), "admin API key")
	n := flag.Int("n", 1000, "users to create")
	c := flag.Int("c", 16, "concurrent clients")
	prefix := flag.String("prefix", "bench", "email prefix, so runs do not collide")
	flag.Parse()

	var next, failed atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				body := fmt.Sprintf(`{"user":{"email":"%s%05d@example.com","name":"Bench User %d"}}`, *prefix, i, i)
				req, _ := http.NewRequest("POST", *url+"/admin/users", bytes.NewBufferString(body))
				req.SetBasicAuth(*key, "x")
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("created %d users with %d clients in %v: %.0f users/s, %d failed\n",
		*n-int(failed.Load()), *c, d.Round(time.Millisecond), float64(*n)/d.Seconds(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

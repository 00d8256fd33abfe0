// Command smallfiles uploads N files of SIZE bytes through
// PUT /api/files/content with C concurrent clients and prints the rate,
// for bench/files.sh.
package main

import (
	"bytes"
	"crypto/rand"
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
	key := flag.String("key", os.Getenv("DEPOT_API_KEY"), "API key")
	n := flag.Int("n", 10000, "files to upload")
	c := flag.Int("c", 16, "concurrent clients")
	size := flag.Int("size", 4096, "bytes per file")
	dir := flag.String("dir", "/bench", "folder to upload into (created)")
	flag.Parse()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}}
	req, _ := http.NewRequest("POST", *url+"/api/folders", bytes.NewBufferString(`{"path":"`+*dir+`"}`))
	req.SetBasicAuth(*key, "x")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		fmt.Fprintf(os.Stderr, "create %s: %v %v\n", *dir, err, resp)
		os.Exit(1)
	}
	body := make([]byte, *size)
	rand.Read(body)
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range *c {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/files/content?path=%s/%06d.bin", *url, *dir, i), bytes.NewReader(body))
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
	fmt.Printf("uploaded %d files of %d bytes with %d clients in %v: %.0f files/s, %d failed\n",
		*n-int(failed.Load()), *size, *c, d.Round(time.Millisecond), float64(*n)/d.Seconds(), failed.Load())
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

// Command smallfiles uploads N files of SIZE bytes through
// PUT /api/files/content with C concurrent clients and prints the rate,
// for bench/files.sh.
package main

import (
	"bytes"
	"crypto/rand"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"depot/bench/load"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "depot base URL")
	key := flag.String("key", os.Getenv("DEPOT_API_KEY"), "API key")
	n := flag.Int("n", 10000, "files to upload")
	c := flag.Int("c", 16, "concurrent clients")
	size := flag.Int("size", 4096, "bytes per file")
	dir := flag.String("dir", "/bench", "folder to upload into (created)")
	flag.Parse()

	req, _ := http.NewRequest("POST", *url+"/api/folders", bytes.NewBufferString(`{"path":"`+*dir+`"}`))
	req.SetBasicAuth(*key, "x")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		fmt.Fprintf(os.Stderr, "create %s: %v %v\n", *dir, err, resp)
		os.Exit(1)
	}
	body := make([]byte, *size)
	rand.Read(body)
	r := load.Run(*n, *c, http.StatusCreated, func(i int) *http.Request {
		req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/files/content?path=%s/%06d.bin", *url, *dir, i), bytes.NewReader(body))
		req.SetBasicAuth(*key, "x")
		return req
	})
	fmt.Printf("uploaded %d files of %d bytes with %d clients in %v: %.0f files/s, %d failed\n",
		r.N-r.Failed, *size, *c, r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.Failed)
	if r.Failed > 0 {
		os.Exit(1)
	}
}

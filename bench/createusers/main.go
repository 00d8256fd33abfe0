// Command createusers creates N users through POST /admin/users with C
// concurrent clients and prints the rate, for bench/api.sh.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	"depot/bench/load"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "depot base URL")
	key := flag.String("key", os.Getenv("DEPOT_API_KEY"), "admin API key")
	n := flag.Int("n", 1000, "users to create")
	c := flag.Int("c", 16, "concurrent clients")
	prefix := flag.String("prefix", "bench", "email prefix, so runs do not collide")
	flag.Parse()

	r := load.Run(*n, *c, http.StatusCreated, func(i int) *http.Request {
		body := fmt.Sprintf(`{"user":{"email":"%s%05d@example.com","name":"Bench User %d"}}`, *prefix, i, i)
		req, _ := http.NewRequest("POST", *url+"/admin/users", bytes.NewBufferString(body))
		req.SetBasicAuth(*key, "x")
		return req
	})
	fmt.Printf("created %d users with %d clients in %v: %.0f users/s, %d failed\n",
		r.N-r.Failed, *c, r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.Failed)
	if r.Failed > 0 {
		os.Exit(1)
	}
}

// Command soak drives a running Depot for a bounded time with SFTP
// sessions and HTTP clients that each upload random files, download them
// back and compare sha256 sums, for bench/soak.sh. It prints what it did
// and every error, and exits 1 if any transfer failed or came back
// different.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "depot base URL")
	key := flag.String("key", os.Getenv("DEPOT_API_KEY"), "API key of the user the clients act as")
	sftpAddr := flag.String("sftp", "127.0.0.1:2022", "SFTP address")
	user := flag.String("user", "soak", "SFTP username")
	keyFile := flag.String("identity", "", "SFTP private key file")
	sessions := flag.Int("sessions", 50, "SFTP sessions")
	clients := flag.Int("http", 8, "HTTP clients")
	size := flag.Int("size", 256<<10, "largest file, bytes (each file is 1 to size bytes)")
	duration := flag.Duration("duration", time.Minute, "how long to run")
	flag.Parse()

	pem, err := os.ReadFile(*keyFile)
	if err != nil {
		fail("read identity: %v", err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		fail("parse identity: %v", err)
	}
	deadline := time.Now().Add(*duration)
	var files, bytesMoved, errs atomic.Int64
	report := func(format string, args ...any) {
		if errs.Add(1) <= 50 {
			fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
		}
	}
	var wg sync.WaitGroup
	for i := range *sessions {
		wg.Go(func() {
			conn, err := gossh.Dial("tcp", *sftpAddr, &gossh.ClientConfig{User: *user, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
				HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: time.Minute})
			if err != nil {
				report("session %d: dial: %v", i, err)
				return
			}
			defer conn.Close()
			c, err := sftp.NewClient(conn)
			if err != nil {
				report("session %d: sftp: %v", i, err)
				return
			}
			defer c.Close()
			for n := 0; time.Now().Before(deadline); n++ {
				data := randomData(*size)
				name := fmt.Sprintf("/s%03d-%d.bin", i, n%4)
				f, err := c.Create(name)
				if err == nil {
					_, err = f.Write(data)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
				if err != nil {
					report("sftp put %s: %v", name, err)
					continue
				}
				f, err = c.Open(name)
				if err != nil {
					report("sftp get %s: %v", name, err)
					continue
				}
				got, err := io.ReadAll(f)
				f.Close()
				if err != nil || !bytes.Equal(got, data) {
					report("sftp get %s: %d of %d bytes, equal %v: %v", name, len(got), len(data), bytes.Equal(got, data), err)
					continue
				}
				files.Add(1)
				bytesMoved.Add(2 * int64(len(data)))
			}
		})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	for i := range *clients {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				data := randomData(*size)
				sum := fmt.Sprintf("%x", sha256.Sum256(data))
				u := fmt.Sprintf("%s/api/files/content?path=/h%02d-%d.bin", *url, i, n%4)
				req, _ := http.NewRequest("PUT", u, bytes.NewReader(data))
				req.SetBasicAuth(*key, "x")
				resp, err := client.Do(req)
				if err != nil {
					report("http put: %v", err)
					continue
				}
				var up struct{ File struct{ SHA256 string } }
				json.NewDecoder(resp.Body).Decode(&up)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || up.File.SHA256 != sum {
					report("http put %s: %d, sha256 %q want %q", u, resp.StatusCode, up.File.SHA256, sum)
					continue
				}
				req, _ = http.NewRequest("GET", u, nil)
				req.SetBasicAuth(*key, "x")
				resp, err = client.Do(req)
				if err != nil {
					report("http get: %v", err)
					continue
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
					report("http get %s: %d, %d of %d bytes: %v", u, resp.StatusCode, len(got), len(data), err)
					continue
				}
				files.Add(1)
				bytesMoved.Add(2 * int64(len(data)))
			}
		})
	}
	wg.Wait()
	fmt.Printf("%d files round-tripped and verified (%d MiB moved) by %d SFTP sessions and %d HTTP clients in %v; %d errors\n",
		files.Load(), bytesMoved.Load()>>20, *sessions, *clients, *duration, errs.Load())
	if errs.Load() > 0 {
		os.Exit(1)
	}
}

// randomData returns 1 to max random bytes.
func randomData(max int) []byte {
	var n [4]byte
	rand.Read(n[:])
	b := make([]byte, 1+int(uint32(n[0])|uint32(n[1])<<8|uint32(n[2])<<16)%max)
	rand.Read(b)
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

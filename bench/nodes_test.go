package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/app"
	"depot/auth"
	"depot/config"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// startNode starts a Depot on data (bbolt when dsn is empty; else on
// PostgreSQL, shared when shared) with SFTP uploads unsynced, as
// OpenSSH's and the other SFTP rows are.
func startNode(b *testing.B, data, dsn string, shared bool) *app.App {
	cfg := apptest.Config(data)
	if dsn != "" {
		cfg.Database.Driver, cfg.Database.DSN, cfg.Database.Shared = "postgres", dsn, shared
	}
	cfg.SFTP.IdleTimeout = config.Duration(time.Hour)
	return apptest.Start(b, cfg)
}

// sftpSession logs in as bench with its password.
func sftpSession(b *testing.B, addr string) *sftp.Client {
	conn, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{User: "bench", Auth: []gossh.AuthMethod{gossh.Password("correct-horse-battery")},
		HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		b.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(); conn.Close() })
	return c
}

// BenchmarkNodes measures what PostgreSQL and a second node change for
// many small files: 1,000 × 4 KiB SFTP puts over 8 sessions on one node on
// bbolt, one node on PostgreSQL, and two nodes sharing PostgreSQL and the
// data directory (4 sessions on each); and the time from an upload's
// acknowledgement to an event automation's webhook receiving it (p50,
// p99 of 200 uploads per round at about 50/s), on bbolt and on
// PostgreSQL. The report is files/s over all rounds (after the sessions
// are open) and the latency in µs over all uploads.
func BenchmarkNodes(b *testing.B) {
	payload := make([]byte, 4096)
	for _, setup := range []string{"bolt", "postgres", "postgres-2-nodes"} {
		b.Run(setup+"/SFTPPut4K_8sessions", func(b *testing.B) {
			nodes := nodesFor(b, setup)
			var addrs []string
			for _, n := range nodes {
				addrs = append(addrs, n.SFTP.ListenAddr().String())
			}
			sessions := make([]*sftp.Client, 8)
			for i := range sessions {
				sessions[i] = sftpSession(b, addrs[i%len(addrs)])
			}
			round, files := 0, 0
			start := time.Now()
			for b.Loop() {
				var wg sync.WaitGroup
				for i, c := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for j := range 125 {
							f, err := c.Create(fmt.Sprintf("/r%d-s%d-%d.bin", round, i, j))
							if err == nil {
								_, err = f.Write(payload)
								err = errorsJoin(err, f.Close())
							}
							if err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				round, files = round+1, files+1000
			}
			b.ReportMetric(float64(files)/time.Since(start).Seconds(), "files/s")
		})
	}
	for _, setup := range []string{"bolt", "postgres"} {
		b.Run(setup+"/EventToWebhook", func(b *testing.B) {
			node := nodesFor(b, setup)[0]
			got := make(chan time.Time, 1000)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				got <- time.Now()
			}))
			defer hook.Close()
			ctx := context.Background()
			au := &mft.Automation{Name: "tell", Enabled: true, Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
				Actions: []mft.Action{{Type: "webhook", URL: hook.URL}}}
			if err := node.Automations.CreateAutomation(ctx, au); err != nil {
				b.Fatal(err)
			}
			if err := node.Engine.Reload(ctx); err != nil {
				b.Fatal(err)
			}
			c := sftpSession(b, node.SFTP.ListenAddr().String())
			var lat []time.Duration
			for b.Loop() {
				for i := range 200 {
					f, err := c.Create(fmt.Sprintf("/lat-%d-%d.bin", time.Now().UnixNano(), i))
					if err != nil {
						b.Fatal(err)
					}
					f.Write(payload)
					if err := f.Close(); err != nil {
						b.Fatal(err)
					}
					acked := time.Now()
					lat = append(lat, (<-got).Sub(acked))
					time.Sleep(20 * time.Millisecond)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// nodesFor starts the nodes of a setup, with the user bench.
func nodesFor(b *testing.B, setup string) []*app.App {
	data := filepath.Join(b.TempDir(), "data")
	var nodes []*app.App
	switch setup {
	case "bolt":
		nodes = []*app.App{startNode(b, data, "", false)}
	case "postgres":
		nodes = []*app.App{startNode(b, data, testpeer.PostgresDSN(b), false)}
	default:
		dsn := testpeer.PostgresDSN(b)
		first := startNode(b, data, dsn, true)
		nodes = []*app.App{first, startNode(b, data, dsn, true)}
	}
	hash, err := auth.HashPassword("correct-horse-battery")
	if err != nil {
		b.Fatal(err)
	}
	apptest.AddUser(b, nodes[0], "bench", func(u *mft.User) { u.PasswordHash = hash })
	if err := os.MkdirAll(filepath.Join(data, "files", "users", "bench"), 0o700); err != nil {
		b.Fatal(err)
	}
	return nodes
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

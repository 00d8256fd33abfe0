package bench

import (
	"bytes"
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

	"github.com/minio/minio-go/v7"
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
// bbolt, one node on PostgreSQL, two nodes sharing PostgreSQL and the
// data directory (4 sessions on each), and one and two nodes (each with
// its own data directory) with the storage root mounted on an S3 store
// (VersityGW, on the same machine); and the time from an upload's
// acknowledgement to an event automation's webhook receiving it (p50,
// p99 of 200 uploads per round at about 50/s), on bbolt and on
// PostgreSQL. The report is files/s over all rounds (after the sessions
// are open) and the latency in µs over all uploads.
func BenchmarkNodes(b *testing.B) {
	payload := make([]byte, 4096)
	for _, setup := range []string{"bolt", "postgres", "postgres-2-nodes", "postgres-s3", "postgres-2-nodes-s3"} {
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
			putRounds(b, func(round, i, j int) error {
				f, err := sessions[i].Create(fmt.Sprintf("/r%d-s%d-%d.bin", round, i, j))
				if err == nil {
					_, err = f.Write(payload)
					err = errorsJoin(err, f.Close())
				}
				return err
			})
		})
	}
	// The object store's own rate for the same files, from 8 clients of
	// its own: the ceiling of the two rows above.
	b.Run("s3-direct/Put4K_8clients", func(b *testing.B) {
		c := testpeer.StartVersityGW(b).Client(b)
		putRounds(b, func(round, i, j int) error {
			_, err := c.PutObject(context.Background(), testpeer.S3Bucket, fmt.Sprintf("depot/r%d-s%d-%d.bin", round, i, j),
				bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{})
			return err
		})
	})
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

// putRounds runs rounds of 1,000 puts, 125 by each of 8 writers at once
// (put(round, writer, file)), and reports files/s over all rounds.
func putRounds(b *testing.B, put func(round, i, j int) error) {
	round, files := 0, 0
	start := time.Now()
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 125 {
					if err := put(round, i, j); err != nil {
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
	case "postgres-2-nodes":
		dsn := testpeer.PostgresDSN(b)
		first := startNode(b, data, dsn, true)
		nodes = []*app.App{first, startNode(b, data, dsn, true)}
	case "postgres-s3", "postgres-2-nodes-s3":
		dsn := testpeer.PostgresDSN(b)
		nodes = []*app.App{startNode(b, data, dsn, true)}
		g := testpeer.StartVersityGW(b)
		ctx := context.Background()
		c := &mft.Connection{Name: "store", Type: mft.ConnS3, Endpoint: g.Endpoint, Region: "us-east-1", Bucket: testpeer.S3Bucket,
			PathStyle: true, AccessKey: testpeer.S3AccessKey, SecretKey: testpeer.S3SecretKey}
		if err := nodes[0].Connections.Create(ctx, c); err != nil {
			b.Fatal(err)
		}
		if err := nodes[0].Mounts.Create(ctx, &mft.Mount{Path: "/", Connection: c.ID, Prefix: "depot"}); err != nil {
			b.Fatal(err)
		}
		if setup == "postgres-2-nodes-s3" { // a data directory of its own, with the first's secret.key
			second := filepath.Join(b.TempDir(), "data")
			key, err := os.ReadFile(filepath.Join(data, "secret.key"))
			if err == nil {
				err = errorsJoin(os.MkdirAll(second, 0o700), os.WriteFile(filepath.Join(second, "secret.key"), key, 0o600))
			}
			if err != nil {
				b.Fatal(err)
			}
			nodes = append(nodes, startNode(b, second, dsn, true))
		}
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

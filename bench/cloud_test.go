package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	gossh "golang.org/x/crypto/ssh"

	"depot/app"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
	"depot/remote"
)

// cloudPeer is an emulator with what the benchmark does on it besides
// Depot: its own SDK's upload helper, and rclone where rclone reaches it.
type cloudPeer struct {
	name string
	conn *mft.Connection
	// sdkPut uploads a local file with the SDK's own helper, as a user
	// of the SDK would; sdkStream streams it, as Depot must (an SFTP
	// upload has no length), at Depot's block size and concurrency.
	sdkPut, sdkStream func(ctx context.Context, file, name string) error
	// rclone copies a file or a folder there ("" when it cannot).
	rclone func(from, to string) []string
	// clear deletes everything: the emulators' listings slow down with
	// the number of objects they hold (fake-gcs-server's on disk walks
	// them all), which cloud stores do not.
	clear func(ctx context.Context)
}

func azurePeer(b *testing.B, dir string) cloudPeer {
	a := testpeer.StartAzuriteAt(b, dir)
	c := a.Container(b)
	return cloudPeer{name: "azblob (Azurite 3.37)",
		clear: func(ctx context.Context) {
			for pager := c.NewListBlobsFlatPager(nil); pager.More(); {
				page, err := pager.NextPage(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for _, item := range page.Segment.BlobItems {
					c.NewBlobClient(*item.Name).Delete(ctx, nil)
				}
			}
		},
		conn: &mft.Connection{Name: "azurite", Type: mft.ConnAzure, Endpoint: a.Endpoint, Container: testpeer.AzureContainer,
			Account: testpeer.AzureAccount, AccountKey: testpeer.AzureKey},
		sdkPut: func(ctx context.Context, file, name string) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = c.NewBlockBlobClient(name).UploadFile(ctx, f, nil)
			return err
		},
		sdkStream: func(ctx context.Context, file, name string) error {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = c.NewBlockBlobClient(name).UploadStream(ctx, f, &blockblob.UploadStreamOptions{BlockSize: remote.AzureBlockSize, Concurrency: 4})
			return err
		}}
}

func gcsPeer(b *testing.B, dir string) cloudPeer {
	g := testpeer.StartFakeGCSAt(b, dir)
	bucket := g.Client(b).Bucket(testpeer.GCSBucket)
	put := func(ctx context.Context, file, name string) error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		w := bucket.Object(name).NewWriter(ctx)
		w.ChunkSize = remote.GCSChunkSize
		if _, err := io.Copy(w, f); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	}
	return cloudPeer{name: "gcs (fake-gcs-server 1.56.1)",
		conn:   &mft.Connection{Name: "fake-gcs", Type: mft.ConnGCS, Endpoint: g.Endpoint, Bucket: testpeer.GCSBucket},
		sdkPut: put, sdkStream: put,
		clear: func(ctx context.Context) {
			it := bucket.Objects(ctx, nil)
			for {
				a, err := it.Next()
				if err != nil {
					return
				}
				bucket.Object(a.Name).Delete(ctx)
			}
		},
		rclone: func(from, to string) []string {
			return []string{"rclone", "copy", "-q", "--gcs-anonymous", "--gcs-endpoint", g.Endpoint + "/storage/v1/", from,
				":gcs:" + testpeer.GCSBucket + "/" + to}
		}}
}

// BenchmarkMountCloud measures a home on Azure Blob and on GCS, each on
// its emulator on loopback (on disk): one file of BENCH_MIB (1024) and
// 1,000 files of 4 KiB put with OpenSSH's sftp (aes128-gcm) into the
// mounted home, against the same files uploaded to the same emulator by
// the SDK's own helper (azblob's UploadFile at 8 MiB blocks, 4 at once;
// the GCS Writer at 16 MiB chunks, as Depot) and, on GCS, rclone copy;
// alternating, medians of BENCH_ROUNDS (3). Then Depot's peak RSS while
// BENCH_CONC (20) sftp clients put BENCH_CONC_MIB (1024) each at once.
// BENCH_CLOUD picks one (azblob or gcs); BENCH_SMALL_ONLY leaves out the
// large file, BENCH_CONC=0 the concurrent uploads. The store is emptied
// after each step.
// Run: go test -run '^$' -bench MountCloud -benchtime 1x -timeout 120m ./bench
func BenchmarkMountCloud(b *testing.B) {
	for name, start := range map[string]func(*testing.B, string) cloudPeer{"azblob": azurePeer, "gcs": gcsPeer} {
		if c := os.Getenv("BENCH_CLOUD"); c != "" && c != name {
			continue
		}
		work, _ := os.MkdirTemp("", "depot-cloudbench-")
		os.MkdirAll(filepath.Join(work, "peer"), 0o755)
		benchCloud(b, work, start(b, filepath.Join(work, "peer")))
		os.RemoveAll(work)
	}
}

func benchCloud(b *testing.B, work string, peer cloudPeer) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	smallOnly := os.Getenv("BENCH_SMALL_ONLY") != ""
	ctx := context.Background()
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads = false
	a := apptest.Start(b, cfg)
	defer apptest.Close(a)
	put := mountedUser(b, a, work, peer.conn)

	src := ""
	if !smallOnly {
		src = randomFile(b, filepath.Join(work, "src.bin"), mib)
	}
	small := filepath.Join(work, "small")
	names := smallFiles(b, small, 1000)
	sdkSmall := func(workers int) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan string)
		for range workers {
			wg.Go(func() {
				for name := range next {
					if err := peer.sdkPut(ctx, name, fmt.Sprintf("sdk/small/%d/%s", workers, filepath.Base(name))); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for _, n := range names {
			next <- n
		}
		close(next)
		wg.Wait()
		return time.Since(start).Seconds()
	}
	quarters := filepath.Join(work, "quarters")
	for q := range 4 {
		os.MkdirAll(filepath.Join(quarters, fmt.Sprint(q)), 0o755)
		for i := q * 250; i < (q+1)*250; i++ {
			name := fmt.Sprintf("f%04d.bin", i)
			os.Link(filepath.Join(small, name), filepath.Join(quarters, fmt.Sprint(q), name))
		}
	}
	parallelPut := func(round int) float64 {
		start := time.Now()
		var wg sync.WaitGroup
		for q := range 4 {
			wg.Go(func() {
				argv := put(fmt.Sprintf("put -r %s/%d q%d-%d", quarters, q, round, q))
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
					b.Errorf("sftp %d: %v\n%s", q, err, out)
				}
			})
		}
		wg.Wait()
		return time.Since(start).Seconds()
	}
	timeSDK := func(put func(context.Context, string, string) error, file, name string) float64 {
		start := time.Now()
		if err := put(ctx, file, name); err != nil {
			b.Fatal(err)
		}
		return time.Since(start).Seconds()
	}
	var dBig, sBig, sStream, rBig, dSmall, dSmall4, sSmall, sSmall4, rSmall []float64
	for r := range rounds {
		steps := []func(){
			func() {
				if !smallOnly {
					dBig = append(dBig, timeCmd(b, put(fmt.Sprintf("put %s big%d.bin", src, r))))
					peer.clear(ctx)
				}
				dSmall = append(dSmall, timeCmd(b, put(fmt.Sprintf("put -r %s small%d", small, r))))
				peer.clear(ctx)
				dSmall4 = append(dSmall4, parallelPut(r))
				peer.clear(ctx)
			},
			func() {
				if !smallOnly {
					sBig = append(sBig, timeSDK(peer.sdkPut, src, fmt.Sprintf("sdk/big%d.bin", r)))
					sStream = append(sStream, timeSDK(peer.sdkStream, src, fmt.Sprintf("sdk/stream%d.bin", r)))
					peer.clear(ctx)
				}
				sSmall = append(sSmall, sdkSmall(1))
				peer.clear(ctx)
				sSmall4 = append(sSmall4, sdkSmall(4))
				peer.clear(ctx)
				if peer.rclone != nil {
					if !smallOnly {
						rBig = append(rBig, timeCmd(b, peer.rclone(src, fmt.Sprintf("rclone/big%d", r))))
					}
					rSmall = append(rSmall, timeCmd(b, peer.rclone(small, fmt.Sprintf("rclone/small%d", r))))
					peer.clear(ctx)
				}
			},
		}
		if r%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, s := range steps {
			s()
		}
	}
	m := float64(mib)
	fmt.Printf("== %s: a mounted home, median of %d\n", peer.name, rounds)
	fmt.Printf("| files | Depot: sftp put into the home | the SDK's own upload | ratio |\n|---|---|---|---|\n")
	if !smallOnly {
		fmt.Printf("| 1 × %d MiB, the SDK streaming | %s MiB/s | %s MiB/s | %.2f× |\n", mib, rate(m, median(dBig)), rate(m, median(sStream)), median(sStream)/median(dBig))
		fmt.Printf("| 1 × %d MiB, the SDK's file upload | | %s MiB/s | %.2f× |\n", mib, rate(m, median(sBig)), median(sBig)/median(dBig))
	}
	fmt.Printf("| 1,000 × 4 KiB, one at a time | %.0f files/s (%.2fs) | %.0f files/s (%.2fs) | %.2f× |\n", 1000/median(dSmall), median(dSmall),
		1000/median(sSmall), median(sSmall), median(sSmall)/median(dSmall))
	fmt.Printf("| 1,000 × 4 KiB, 4 at once | %.0f files/s (%.2fs) | %.0f files/s (%.2fs) | %.2f× |\n", 1000/median(dSmall4), median(dSmall4),
		1000/median(sSmall4), median(sSmall4), median(sSmall4)/median(dSmall4))
	if len(rBig) > 0 {
		fmt.Printf("| rclone copy: 1 × %d MiB | | %s MiB/s | %.2f× |\n", mib, rate(m, median(rBig)), median(rBig)/median(dBig))
	}
	if len(rSmall) > 0 {
		fmt.Printf("| rclone copy: 1,000 × 4 KiB (4 at once) | | %.0f files/s (%.2fs) | %.2f× against Depot's 4 at once |\n",
			1000/median(rSmall), median(rSmall), median(rSmall)/median(dSmall4))
	}

	concurrentPuts(b, work, put, "the home")
}

// mountedUser makes the user bench with a key whose home is mounted on
// conn (below the prefix "depot"), and returns how to run an sftp batch
// command as bench.
func mountedUser(b *testing.B, a *app.App, work string, conn *mft.Connection) func(string) []string {
	ctx := context.Background()
	if err := a.Connections.Create(ctx, conn); err != nil {
		b.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	block, _ := gossh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(work, "id")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	u := &mft.User{ID: "bench", Username: "bench", Role: mft.RoleUser, Home: "/users/bench", Active: true, Protocols: mft.DefaultProtocols,
		SSHKeys: []string{strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))}}
	if err := a.Users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	if err := a.Mounts.Create(ctx, &mft.Mount{Path: u.Home, Connection: conn.ID, Prefix: "depot"}); err != nil {
		b.Fatal(err)
	}
	addr := a.SFTP.ListenAddr().String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	return func(cmd string) []string {
		return []string{"sh", "-c", fmt.Sprintf("echo %q | sftp -q -b - -i %s -P %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "+
			"-o Ciphers=aes128-gcm@openssh.com bench@127.0.0.1", cmd, keyFile, port)}
	}
}

package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/app"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkAS2 measures the AS2 station on loopback against OpenSSL's own
// cost of the same cryptography (the floor: no server can open a message
// faster than `openssl cms` decrypts and verifies it):
//
//   - inbound: a signed and encrypted message of BENCH_AS2_MIB (100) MiB
//     built by openssl, posted to POST /as2 with a signed synchronous MDN
//     asked, against `openssl cms -decrypt | openssl cms -verify` of the
//     same message; and BENCH_AS2_SMALL (500) messages of 4 KiB, 4 at once,
//     against openssl opening them one after another;
//   - a send, Depot to Depot: the upload action to a partner that is the
//     station itself (signed, encrypted, a signed MDN checked), so one run
//     does both sides' work, against openssl signing and encrypting the
//     file plus decrypting and verifying it;
//   - the peak memory (VmHWM) of the process over the large message.
//
// Medians of BENCH_ROUNDS (3). Uploads are not synced.
// Run: go test -run '^$' -bench AS2 -benchtime 1x ./bench
func BenchmarkAS2(b *testing.B) {
	mib, small, rounds := envInt("BENCH_AS2_MIB", 100), envInt("BENCH_AS2_SMALL", 500), envInt("BENCH_ROUNDS", 3)
	ctx := context.Background()
	work, err := os.MkdirTemp("", "depot-as2bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads = false
	cfg.AS2.MaxMessageMB = int64(mib) + 16
	cfg.AS2.RateLimit, cfg.AS2.RateBurst = 100000, 100000
	app.TuneRuntime(cfg.Runtime)
	a := apptest.Start(b, cfg)

	station, peer := testpeer.NewAS2Peer(b, "DEPOT", 365), testpeer.NewAS2Peer(b, "ACME", 365)
	key := string(station.Run("pkey", "-in", station.Key))
	if _, err := a.AS2.PutStation(ctx, mft.AS2StationChange{AS2ID: ptr("DEPOT"), Certificate: &station.CertPEM, PrivateKey: &key}); err != nil {
		b.Fatal(err)
	}
	u := &mft.User{ID: "acme", Username: "acme", Role: mft.RoleUser, Home: "/users/acme", Active: true, Protocols: mft.DefaultProtocols}
	if err := a.Users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	partner := func(as2ID, cert string) *mft.AS2Partner {
		p := a.AS2.NewPartner()
		p.Name, p.AS2ID, p.Certificate, p.User, p.Folder = as2ID, as2ID, cert, u.ID, "/in"
		p.URL = a.HTTP.PublicURL + "/as2"
		if err := a.AS2.CreatePartner(ctx, p); err != nil {
			b.Fatal(err)
		}
		return p
	}
	partner("ACME", peer.CertPEM)
	self := partner("DEPOT", station.CertPEM) // the station sending to itself

	var seq atomic.Int64
	post := func(msg testpeer.Message) {
		req, _ := http.NewRequest(http.MethodPost, a.HTTP.PublicURL+"/as2", bytes.NewReader(msg.Body))
		req.Header.Set("AS2-From", "ACME")
		req.Header.Set("AS2-To", "DEPOT")
		req.Header.Set("Message-ID", fmt.Sprintf("<bench-%d@acme.example>", seq.Add(1)))
		req.Header.Set("Content-Type", msg.ContentType)
		req.Header.Set("Disposition-Notification-To", "edi@acme.example")
		req.Header.Set("Disposition-Notification-Options", "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, sha-256")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("processed\r\n")) || bytes.Contains(body, []byte("processed/")) {
			b.Errorf("inbound: %d %.700s", resp.StatusCode, body)
		}
	}
	floorOpen := func(der, signer string) []string {
		return []string{"sh", "-c", fmt.Sprintf("openssl cms -decrypt -binary -inform DER -in %s -recip %s -inkey %s | "+
			"openssl cms -verify -binary -noverify -nointern -certfile %s -out /dev/null 2>/dev/null",
			der, station.Cert, station.Key, signer)}
	}

	// One large message.
	data := make([]byte, mib<<20)
	rand.Read(data)
	big := peer.Build("big.bin", data, testpeer.AS2Options{Sign: "sha256", EncryptFor: station.Cert})
	bigDER := peer.File("big.der", big.Body)
	var depotIn, floorIn []float64
	rssBefore := peakRSS()
	for range rounds {
		start := time.Now()
		post(big)
		depotIn = append(depotIn, time.Since(start).Seconds())
		floorIn = append(floorIn, timeCmd(b, floorOpen(bigDER, peer.Cert)))
	}
	rssAfter := peakRSS()

	// Many small ones, 4 at once.
	msgs := make([]testpeer.Message, small)
	ders := make([]string, small)
	for i := range msgs {
		d := make([]byte, 4096)
		rand.Read(d)
		msgs[i] = peer.Build(fmt.Sprintf("s%04d.bin", i), d, testpeer.AS2Options{Sign: "sha256", EncryptFor: station.Cert})
		ders[i] = peer.File(fmt.Sprintf("s%04d.der", i), msgs[i].Body)
	}
	var depotSmall, floorSmall []float64
	for range rounds {
		start := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(small); i = next.Add(1) - 1 {
					post(msgs[i])
				}
			})
		}
		wg.Wait()
		depotSmall = append(depotSmall, float64(small)/time.Since(start).Seconds())
		start = time.Now()
		for _, d := range ders[:min(small, 100)] {
			if out, err := runShell(floorOpen(d, peer.Cert)); err != nil {
				b.Fatalf("openssl: %v %s", err, out)
			}
		}
		floorSmall = append(floorSmall, float64(min(small, 100))/time.Since(start).Seconds())
	}

	// A send, Depot to Depot.
	admin := apptest.Actor(&mft.User{ID: "bench", Role: mft.RoleAdmin, Home: "/", Active: true})
	if _, err := a.Files.Upload(ctx, admin, "/out.bin", bytes.NewReader(data), filesOpts()); err != nil {
		b.Fatal(err)
	}
	conn := &mft.Connection{Name: "self", Type: mft.ConnAS2, AS2Partner: self.ID}
	if err := a.Connections.Create(ctx, conn); err != nil {
		b.Fatal(err)
	}
	plain := peer.File("out.bin", testpeer.Entity("out.bin", data))
	floorSend := []string{"sh", "-c", fmt.Sprintf("openssl cms -sign -binary -md sha256 -signer %s -inkey %s -in %s | "+
		"openssl cms -encrypt -binary -aes256 -outform DER -out %s %s && ",
		station.Cert, station.Key, plain, filepath.Join(peer.Dir, "out.der"), station.Cert) +
		floorOpen(filepath.Join(peer.Dir, "out.der"), station.Cert)[2]}
	var depotSend, floorSendT []float64
	for range rounds {
		depotSend = append(depotSend, runStep(b, a, mft.Action{Type: "upload", Connection: conn.ID, To: "/", KeepOriginal: true}, "/out.bin"))
		floorSendT = append(floorSendT, timeCmd(b, floorSend))
	}

	m := float64(mib)
	b.Logf("AS2, %d MiB signed+encrypted (AES-256-CBC, SHA-256), signed sync MDN; medians of %d", mib, rounds)
	b.Logf("  inbound: Depot %s MiB/s, openssl decrypt+verify %s MiB/s: Depot %.2fx as fast",
		rate(m, median(depotIn)), rate(m, median(floorIn)), median(floorIn)/median(depotIn))
	b.Logf("  peak RSS over the inbound rounds: %d MiB (%d MiB before; the benchmark holds the message too)", rssAfter>>20, rssBefore>>20)
	b.Logf("  %d × 4 KiB inbound, 4 at once: Depot %.0f messages/s; openssl decrypt+verify, one process pair each: %.0f/s",
		small, median(depotSmall), median(floorSmall))
	b.Logf("  send Depot → Depot (both sides' work): %s MiB/s; openssl sign+encrypt+decrypt+verify %s MiB/s: Depot %.2fx as fast",
		rate(m, median(depotSend)), rate(m, median(floorSendT)), median(floorSendT)/median(depotSend))
}

func ptr[T any](v T) *T { return &v }

func runShell(argv []string) ([]byte, error) {
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

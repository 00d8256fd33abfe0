package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"depot/internal/apptest"
)

// BenchmarkWebClient uploads one file (BENCH_MIB, default 1024) through
// the web client in headless Chromium (file input, resumable pieces:
// 32 MiB for a file over 256 MiB, 4 at once) and the same file with curl -T to the same server, alternating,
// then 1,000 files of 4 KiB chosen at once in the browser against curl
// --parallel (4 at once, as the page) with the same files. Medians of
// BENCH_ROUNDS (3). Neither side syncs (data.sync_uploads off); each large
// upload is deleted, untimed, before the next step. Each round also
// times the browser's own ceiling (the same file to a draining server).
// Run: go test -run '^$' -bench WebClient -benchtime 1x ./bench
func BenchmarkWebClient(b *testing.B) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		b.Skip("chromium is not installed")
	}
	work, _ := os.MkdirTemp("", "depot-webbench-")
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads = false
	cfg.HTTP.RateLimit = 0 // 1,000 small uploads in seconds are not an attack here
	a := apptest.Start(b, cfg)
	base := a.HTTP.URL()

	// A user with a password (the browser) and an API key (curl).
	req, _ := http.NewRequest("POST", base+"/admin/users", strings.NewReader(`{"user":{"email":"bench@example.com","password":"bench-password"}}`))
	req.SetBasicAuth(apptest.AdminKey, "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		b.Fatalf("create user: %v %v", err, resp)
	}
	var created struct {
		User struct {
			APIKey string `json:"api_key"`
		}
	}
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	key := created.User.APIKey

	src := randomFile(b, filepath.Join(work, "big.bin"), mib)
	small := smallFiles(b, filepath.Join(work, "small"), 1000)
	var curlCfg strings.Builder

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.SendKeys(chromedp.CSS("#login"), "bench@example.com"),
		chromedp.SendKeys(chromedp.CSS("#password"), "bench-password"), chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#uploader"))); err != nil {
		b.Fatalf("sign in: %v", err)
	}
	// api sends a request with the user's key and fails unless it answers want.
	api := func(method, path, body string, want int) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.SetBasicAuth(key, "x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			b.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	mkdir := func(p string) { api("POST", "/api/folders", `{"path":"`+p+`"}`, 201) }
	// browserUpload chooses files in the folder's page and times until the
	// page says every one is uploaded.
	browserUpload := func(dir string, paths []string) float64 {
		mkdir(dir)
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/web/files?path="+dir), chromedp.WaitVisible(chromedp.CSS("#uploader"))); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#upload-files"), paths),
			chromedp.WaitVisible(chromedp.CSS(`#uploader[data-state="done"], #uploader[data-state="failed"]`))); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start).Seconds()
		state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("uploader").dataset.state`))
		if state != "done" {
			b.Fatalf("browser upload ended %q", state)
		}
		return d
	}
	curl := func(args ...string) float64 {
		start := time.Now()
		if out, err := exec.Command("curl", append([]string{"-sSf", "-u", key + ":x"}, args...)...).CombinedOutput(); err != nil {
			b.Fatalf("curl: %v %s", err, out)
		}
		return time.Since(start).Seconds()
	}

	// del removes what a step wrote, untimed: every 1 GiB step then starts
	// right after 1 GiB was freed, and writes into that memory (on this VM,
	// memory not touched for a while costs several times more to fill).
	del := func(p string) { api("DELETE", "/api/files?path="+p, "", 200) }
	var web, cli, webSmall, cliSmall []float64
	// The browser's own ceiling in the same run: the same file from a
	// file input to a server that only drains the bodies, in 4 requests
	// at once (as many as the web client sends of one file) and in 6.
	drain := drainServer(b)
	ceiling := map[int][]float64{}
	curl("-o", "/dev/null", "-T", src, base+"/api/files/content?path=/warm.bin") // untimed
	del("/warm.bin")
	for r := range rounds {
		dir := fmt.Sprintf("/web%d", r)
		web = append(web, browserUpload(dir, []string{src}))
		del(dir + "/" + filepath.Base(src))
		cli = append(cli, curl("-o", "/dev/null", "-T", src, fmt.Sprintf("%s/api/files/content?path=/curl%d.bin", base, r)))
		del(fmt.Sprintf("/curl%d.bin", r))
		openDrainPage(b, ctx, drain, src)
		for _, n := range []int{4, 6} {
			ceiling[n] = append(ceiling[n], drainSend(b, ctx, n))
		}
	}
	for r := range rounds {
		webSmall = append(webSmall, browserUpload(fmt.Sprintf("/websmall%d", r), small))
		dir := fmt.Sprintf("/curlsmall%d", r)
		mkdir(dir)
		curlCfg.Reset()
		for _, p := range small {
			fmt.Fprintf(&curlCfg, "url = \"%s/api/files/content?path=%s/%s\"\nupload-file = \"%s\"\noutput = \"/dev/null\"\n", base, dir, filepath.Base(p), p)
		}
		cfgFile := filepath.Join(work, "curl.cfg")
		os.WriteFile(cfgFile, []byte(curlCfg.String()), 0o644)
		cliSmall = append(cliSmall, curl("--parallel", "--parallel-max", "4", "-K", cfgFile))
	}
	m := float64(mib)
	fmt.Printf("== web client vs curl, median of %d\n", rounds)
	fmt.Printf("| %d MiB upload | web client %s MiB/s | curl -T %s MiB/s | %.2f× curl |\n", mib, rate(m, median(web)), rate(m, median(cli)), median(cli)/median(web))
	for _, n := range []int{4, 6} {
		fmt.Printf("| %d MiB, the browser's ceiling | %d requests at once to a draining server: %s MiB/s | web client %.2f× of it |\n",
			mib, n, rate(m, median(ceiling[n])), median(ceiling[n])/median(web))
	}
	fmt.Printf("| 1,000 × 4 KiB | web client %.0f files/s (%.2fs) | curl --parallel 4: %.0f files/s (%.2fs) | %.2f× curl |\n",
		1000/median(webSmall), median(webSmall), 1000/median(cliSmall), median(cliSmall), median(cliSmall)/median(webSmall))
}

// BenchmarkBrowserCeiling measures how fast headless Chromium itself can
// send BENCH_MIB (1024) to a server that only drains the bodies (Go's
// net/http, no Depot): one request, then the same bytes in 3 and 6
// requests at once, against curl -T to the same server. It is the
// ceiling of any web client on this machine.
// Run: go test -run '^$' -bench BrowserCeiling -benchtime 1x ./bench
func BenchmarkBrowserCeiling(b *testing.B) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		b.Skip("chromium is not installed")
	}
	base := drainServer(b)
	work, _ := os.MkdirTemp("", "depot-ceiling-")
	b.Cleanup(func() { os.RemoveAll(work) })
	src := randomFile(b, filepath.Join(work, "big.bin"), mib)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	openDrainPage(b, ctx, base, src)
	send := func(n int) float64 { return drainSend(b, ctx, n) }
	lanes := []int{1, 3, 6}
	times := map[int][]float64{}
	var cli []float64
	for range rounds {
		for _, n := range lanes {
			times[n] = append(times[n], send(n))
		}
		start := time.Now()
		if out, err := exec.Command("curl", "-sSf", "-o", "/dev/null", "-T", src, base+"/sink").CombinedOutput(); err != nil {
			b.Fatalf("curl: %v %s", err, out)
		}
		cli = append(cli, time.Since(start).Seconds())
	}
	m := float64(mib)
	fmt.Printf("== %d MiB to a server that drains the body, median of %d\n", mib, rounds)
	fmt.Printf("| sender | MiB/s (s) | ratio to curl |\n|---|---|---|\n")
	for _, n := range lanes {
		fmt.Printf("| Chromium, %d request(s) at once | %s | %.2f× |\n", n, rate(m, median(times[n])), median(cli)/median(times[n]))
	}
	fmt.Printf("| curl -T | %s | 1.00× |\n", rate(m, median(cli)))

	// 1,000 files of 4 KiB chosen at once, sent one request each, six at
	// once (a page's connections to one server), against curl --parallel.
	small := smallFiles(b, filepath.Join(work, "small"), 1000)
	var curlCfg strings.Builder
	for _, p := range small {
		fmt.Fprintf(&curlCfg, "url = \"%s/sink\"\nupload-file = \"%s\"\noutput = \"/dev/null\"\n", base, p)
	}
	cfgFile := filepath.Join(work, "curl.cfg")
	os.WriteFile(cfgFile, []byte(curlCfg.String()), 0o644)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS("#m"), small)); err != nil {
		b.Fatal(err)
	}
	const sendAll = `(async () => { const files = [...document.getElementById("m").files]; let next = 0; const t0 = performance.now();
		const lane = async () => { while (next < files.length) { const r = await fetch("/sink", {method: "PUT", body: files[next++]}); await r.text(); } };
		await Promise.all(Array.from({length: 6}, lane));
		return (performance.now() - t0) / 1000; })()`
	var webSmall, cliSmall []float64
	for range rounds {
		secs, err := chromedp.Run(ctx, chromedp.Evaluate[float64](sendAll, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		webSmall = append(webSmall, secs)
		start := time.Now()
		if out, err := exec.Command("curl", "-sSf", "--parallel", "--parallel-max", "4", "-K", cfgFile).CombinedOutput(); err != nil {
			b.Fatalf("curl: %v %s", err, out)
		}
		cliSmall = append(cliSmall, time.Since(start).Seconds())
	}
	fmt.Printf("| Chromium, 1,000 × 4 KiB, 6 at once | %.0f files/s (%.2fs) | %.2f× |\n", 1000/median(webSmall), median(webSmall), median(cliSmall)/median(webSmall))
	fmt.Printf("| curl --parallel 4, 1,000 × 4 KiB | %.0f files/s (%.2fs) | 1.00× |\n", 1000/median(cliSmall), median(cliSmall))
}

// drainServer starts a server that only drains request bodies (Go's
// net/http, no Depot), with a page holding two file inputs; it returns
// its address.
func drainServer(b *testing.B) string {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<!doctype html><title>sink</title><input type="file" id="f"><input type="file" id="m" multiple>`)
	})
	mux.HandleFunc("POST /sink", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	mux.HandleFunc("PUT /sink", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})
	srv := &http.Server{Handler: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// openDrainPage opens the drain server's page and chooses src in its
// file input (a file on disk, as the web client's).
func openDrainPage(b *testing.B, ctx context.Context, base, src string) {
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.SetUploadFiles(chromedp.CSS("#f"), []string{src})); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`(window.blob = document.getElementById("f").files[0]).size`)); err != nil {
		b.Fatal(err)
	}
}

// drainSend has the drain page send its file in n requests at once,
// timing itself; it returns the seconds.
func drainSend(b *testing.B, ctx context.Context, n int) float64 {
	js := fmt.Sprintf(`(async () => { const n = %d, size = window.blob.size, per = Math.ceil(size / n); const t0 = performance.now();
		await Promise.all(Array.from({length: n}, (_, i) => fetch("/sink", {method: "POST", body: window.blob.slice(i * per, Math.min(size, (i + 1) * per))})));
		return (performance.now() - t0) / 1000; })()`, n)
	secs, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatal(err)
	}
	return secs
}

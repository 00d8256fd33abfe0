package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// sftpgoPeer is an SFTPGo started for a benchmark: bolt provider, one user
// (bench) with a password and every permission, FTPS (explicit TLS
// required) and WebDAV on loopback.
type sftpgoPeer struct {
	FTPPort string // explicit FTPS, TLS required for logins and data
	DavURL  string // WebDAV root, plain HTTP
	Home    string // the user's folder on disk
}

// startSFTPGo starts SFTPGo from the binary in $SFTPGO (built from
// drakkan/sftpgo, see bench/sftpgo.sh; its templates, static and openapi
// folders are copied from $SFTPGO_SRC, default the binary's folder) with
// user bench and password. The certificate is certFile/keyFile; passive
// data ports are passive ("start-end"). Without $SFTPGO it returns nil
// and says so in the log.
func startSFTPGo(b *testing.B, work, password, certFile, keyFile string, passive [2]int) *sftpgoPeer {
	bin := os.Getenv("SFTPGO")
	if bin == "" {
		b.Log("SFTPGO is not set: no SFTPGo rows (build it from drakkan/sftpgo, see bench/sftpgo.sh)")
		return nil
	}
	src := os.Getenv("SFTPGO_SRC")
	if src == "" {
		src = filepath.Dir(bin)
	}
	cfg, home := filepath.Join(work, "sftpgo-cfg"), filepath.Join(work, "sftpgo-home")
	os.MkdirAll(cfg, 0o755)
	os.MkdirAll(home, 0o755)
	for _, d := range []string{"templates", "static", "openapi"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(src, d), cfg).CombinedOutput(); err != nil {
			b.Fatalf("sftpgo: copying %s: %v %s", d, err, out)
		}
	}
	httpPort, ftpPort, davPort := freeLoopbackPort(b), freeLoopbackPort(b), freeLoopbackPort(b)
	env := append(os.Environ(),
		"SFTPGO_DATA_PROVIDER__DRIVER=bolt", "SFTPGO_DATA_PROVIDER__NAME="+filepath.Join(cfg, "sftpgo.db"),
		"SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN=true", "SFTPGO_DEFAULT_ADMIN_USERNAME=admin",
		"SFTPGO_DEFAULT_ADMIN_PASSWORD=bench-admin-password",
		"SFTPGO_HTTPD__BINDINGS__0__ADDRESS=127.0.0.1", "SFTPGO_HTTPD__BINDINGS__0__PORT="+httpPort,
		"SFTPGO_SFTPD__BINDINGS__0__PORT=0",
		"SFTPGO_FTPD__BINDINGS__0__ADDRESS=127.0.0.1", "SFTPGO_FTPD__BINDINGS__0__PORT="+ftpPort,
		"SFTPGO_FTPD__BINDINGS__0__TLS_MODE=1", "SFTPGO_FTPD__CERTIFICATE_FILE="+certFile,
		"SFTPGO_FTPD__CERTIFICATE_KEY_FILE="+keyFile,
		fmt.Sprintf("SFTPGO_FTPD__PASSIVE_PORT_RANGE__START=%d", passive[0]),
		fmt.Sprintf("SFTPGO_FTPD__PASSIVE_PORT_RANGE__END=%d", passive[1]),
		"SFTPGO_WEBDAVD__BINDINGS__0__ADDRESS=127.0.0.1", "SFTPGO_WEBDAVD__BINDINGS__0__PORT="+davPort,
		"SFTPGO_LOG_LEVEL=info")
	initp := exec.Command(bin, "initprovider", "--config-dir", cfg)
	initp.Env = env
	if out, err := initp.CombinedOutput(); err != nil {
		b.Fatalf("sftpgo initprovider: %v %s", err, out)
	}
	serve := exec.Command(bin, "serve", "--config-dir", cfg, "--log-file-path", filepath.Join(cfg, "sftpgo.log"))
	serve.Env = env
	if err := serve.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { serve.Process.Kill(); serve.Wait() })
	base := "http://127.0.0.1:" + httpPort
	for {
		if r, err := http.Get(base + "/healthz"); err == nil {
			r.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	sftpgoCall(b, "GET", base+"/api/v2/token", "", nil, &tok)
	user := map[string]any{"username": "bench", "password": password, "status": 1, "home_dir": home,
		"permissions": map[string][]string{"/": {"*"}}}
	sftpgoCall(b, "POST", base+"/api/v2/users", tok.AccessToken, user, nil)
	waitTCP(b, "127.0.0.1:"+ftpPort)
	waitTCP(b, "127.0.0.1:"+davPort)
	return &sftpgoPeer{FTPPort: ftpPort, DavURL: "http://127.0.0.1:" + davPort + "/", Home: home}
}

// sftpgoCall calls SFTPGo's REST API: with the admin's password when token
// is empty, else with the bearer token; body and out as JSON.
func sftpgoCall(b *testing.B, method, url, token string, body, out any) {
	var in bytes.Buffer
	if body != nil {
		json.NewEncoder(&in).Encode(body)
	}
	req, _ := http.NewRequest(method, url, &in)
	req.Header.Set("Content-Type", "application/json")
	if token == "" {
		req.SetBasicAuth("admin", "bench-admin-password")
	} else {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		b.Fatalf("sftpgo %s %s: %s %s", method, url, resp.Status, msg.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			b.Fatal(err)
		}
	}
}

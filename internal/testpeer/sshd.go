package testpeer

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"

	"depot/mft"

	"golang.org/x/crypto/ssh"
)

// SSHD is OpenSSH's sshd serving SFTP (internal-sftp) to the current
// user with one authorized key.
type SSHD struct {
	*Process
	User string
	// HostKey is the SHA256 fingerprint of the server's Ed25519 key, and
	// HostKeyRSA that of its RSA key (a client negotiates RSA first unless
	// told otherwise); PrivateKey the user's key (OpenSSH PEM); PublicKey
	// its authorized_keys line.
	HostKey    string
	HostKeyRSA string
	PrivateKey string
	PublicKey  string
	// Dir is a folder the user may write, the connections' base path.
	Dir string
}

// StartSSHD starts sshd on a free loopback port.
func StartSSHD(tb testing.TB) *SSHD {
	tb.Helper()
	bin := tool(tb, "sshd")
	dir := tb.TempDir()
	u, err := user.Current()
	if err != nil {
		tb.Fatal(err)
	}
	hostPub, hostFile := writeKey(tb, dir, "host_ed25519")
	rsaPub, rsaFile := writeRSAKey(tb, dir, "host_rsa")
	userPub, userFile := writeKey(tb, dir, "user_ed25519")
	userKey, _ := os.ReadFile(userFile)
	authorized := filepath.Join(dir, "authorized_keys")
	os.WriteFile(authorized, ssh.MarshalAuthorizedKey(userPub), 0o600)
	os.MkdirAll("/run/sshd", 0o755) // its privilege separation folder
	port := freePort(tb)
	config := filepath.Join(dir, "sshd_config")
	os.WriteFile(config, fmt.Appendf(nil, `Port %d
ListenAddress 127.0.0.1
HostKey %s
HostKey %s
AuthorizedKeysFile %s
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile none
Subsystem sftp internal-sftp
LogLevel ERROR
`, port, hostFile, rsaFile, authorized), 0o600)
	base := filepath.Join(dir, "files")
	os.Mkdir(base, 0o755)
	p := start(tb, port, nil, bin, "-D", "-e", "-f", config)
	return &SSHD{Process: p, User: u.Username, HostKey: ssh.FingerprintSHA256(hostPub), HostKeyRSA: ssh.FingerprintSHA256(rsaPub), PrivateKey: string(userKey),
		PublicKey: string(ssh.MarshalAuthorizedKey(userPub)), Dir: base}
}

// Addr is host:port.
func (s *SSHD) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// writeKey writes a new ed25519 private key in OpenSSH form.
func writeKey(tb testing.TB, dir, name string) (ssh.PublicKey, string) {
	tb.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(dir, name)
	os.WriteFile(file, pem.EncodeToMemory(block), 0o600)
	sp, _ := ssh.NewPublicKey(pub)
	return sp, file
}

// writeRSAKey writes a new 2048-bit RSA private key in OpenSSH form.
func writeRSAKey(tb testing.TB, dir, name string) (ssh.PublicKey, string) {
	tb.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(dir, name)
	os.WriteFile(file, pem.EncodeToMemory(block), 0o600)
	sp, _ := ssh.NewPublicKey(&priv.PublicKey)
	return sp, file
}

// Connection is an SFTP storage connection to s as its user, with s's
// Ed25519 host key pinned and Dir as the base path.
func (s *SSHD) Connection(name string) *mft.Connection {
	return &mft.Connection{Name: name, Type: mft.ConnSFTP, Host: "127.0.0.1", Port: s.Port, Username: s.User,
		PrivateKey: s.PrivateKey, HostKey: s.HostKey, BasePath: s.Dir}
}

package testpeer

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FTPUser is the vsftpd peer's system account, which the tests make (they
// run as root under scripts/test.sh, which deletes it at the end).
const FTPUser = "depotftp"

// FTPPassword is its password: made for each run of scripts/test.sh
// (DEPOT_TEST_FTP_PASSWORD), so that the test packages running at once
// agree and no password of a machine's account is written in the
// repository; a bare go test derives one from the machine's id.
var FTPPassword = ftpPassword()

func ftpPassword() string {
	if p := os.Getenv("DEPOT_TEST_FTP_PASSWORD"); p != "" {
		return p
	}
	id, _ := os.ReadFile("/etc/machine-id")
	sum := sha256.Sum256(append([]byte("depot-ftp-peer\x00"), id...))
	return "ftp-" + hex.EncodeToString(sum[:12])
}

// FTPMode is how the vsftpd peer speaks TLS.
type FTPMode int

const (
	FTPPlain    FTPMode = iota
	FTPExplicit         // AUTH TLS, required for logins and data
	FTPImplicit         // TLS from the first byte (ftps)
)

// VSFTPD is vsftpd serving one local user, passive mode, plain FTP or
// FTPS (explicit or implicit) with a self-signed certificate.
type VSFTPD struct {
	*Process
	// Dir is the user's folder, the connections' base path.
	Dir string
	// CertFingerprint is the certificate's SHA256:<base64> (TLS only).
	CertFingerprint string
	// CertFile and KeyFile are the certificate and its key (TLS only).
	CertFile, KeyFile string
}

// StartVSFTPD starts vsftpd on a free loopback port speaking mode.
func StartVSFTPD(tb testing.TB, mode FTPMode) *VSFTPD {
	tb.Helper()
	bin := tool(tb, "vsftpd")
	if os.Geteuid() != 0 {
		tb.Skip("skipping: the vsftpd peer needs root to make its FTP user")
	}
	ensureFTPUser(tb)
	// A folder the FTP user can reach: t.TempDir's parents are root's.
	dir, err := os.MkdirTemp("", "depot-ftp-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o755)
	if out, err := exec.Command("chown", FTPUser, files).CombinedOutput(); err != nil {
		tb.Fatalf("chown: %v %s", err, out)
	}
	port := freePort(tb)
	conf := []string{
		"listen=YES", "listen_address=127.0.0.1", "listen_port=" + strconv.Itoa(port), "background=NO",
		"anonymous_enable=NO", "local_enable=YES", "write_enable=YES", "local_umask=022", "local_root=" + files,
		"chroot_local_user=NO", "pasv_enable=YES", "port_enable=NO", "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
		// No such PAM service: PAM's "other", without vsftpd's pam_shells
		// (the user has no login shell).
		"pam_service_name=depot-ftp-peer",
		"xferlog_enable=NO", "dirmessage_enable=NO", "use_localtime=NO",
		"vsftpd_log_file=" + filepath.Join(dir, "vsftpd.log"),
	}
	v := &VSFTPD{Dir: files}
	if mode != FTPPlain {
		cert, key, fp := selfSigned(tb, dir)
		v.CertFingerprint, v.CertFile, v.KeyFile = fp, cert, key
		conf = append(conf, "ssl_enable=YES", "rsa_cert_file="+cert, "rsa_private_key_file="+key, "allow_anon_ssl=NO",
			"force_local_logins_ssl=YES", "force_local_data_ssl=YES", "ssl_tlsv1=NO", "ssl_sslv2=NO", "ssl_sslv3=NO",
			"require_ssl_reuse=YES", "ssl_ciphers=HIGH")
		if mode == FTPImplicit {
			conf = append(conf, "implicit_ssl=YES")
		}
	}
	config := filepath.Join(dir, "vsftpd.conf")
	os.WriteFile(config, []byte(strings.Join(conf, "\n")+"\n"), 0o600)
	v.Process = start(tb, port, nil, bin, config)
	return v
}

// ensureFTPUser makes the FTP user once and sets its password.
func ensureFTPUser(tb testing.TB) {
	tb.Helper()
	if exec.Command("id", FTPUser).Run() != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--home-dir", "/", "--shell", "/usr/sbin/nologin", FTPUser).CombinedOutput(); err != nil &&
			!strings.Contains(string(out), "already exists") {
			tb.Fatalf("useradd: %v %s", err, out)
		}
	}
	// vsftpd changes to the home folder before local_root: "/" exists.
	if out, err := exec.Command("usermod", "--home", "/", "--shell", "/usr/sbin/nologin", FTPUser).CombinedOutput(); err != nil {
		tb.Fatalf("usermod: %v %s", err, out)
	}
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(FTPUser + ":" + FTPPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("chpasswd: %v %s", err, out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and the certificate's fingerprint.
func selfSigned(tb testing.TB, dir string) (certFile, keyFile, fingerprint string) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	sum := sha256.Sum256(der)
	return certFile, keyFile, "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Addr is host:port.
func (v *VSFTPD) Addr() string { return fmt.Sprintf("127.0.0.1:%d", v.Port) }

package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"path"
	"strconv"
	"strings"

	"github.com/jlaffaye/ftp"

	"depot/mft"
	"depot/tlscert"
)

// ftpStore is a remote FTP or FTPS server through jlaffaye/ftp, in
// passive mode (EPSV, else PASV).
type ftpStore struct {
	conn *ftp.ServerConn
	base string
}

func dialFTP(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	var info Info
	opts := []ftp.DialOption{ftp.DialWithContext(ctx), ftp.DialWithTimeout(Timeout)}
	if c.Type == mft.ConnFTPS || c.TLS == "explicit" {
		cfg, err := ftpTLS(c, &info)
		if err != nil {
			return nil, info, err
		}
		if c.Type == mft.ConnFTPS {
			opts = append(opts, ftp.DialWithTLS(cfg))
		} else {
			opts = append(opts, ftp.DialWithExplicitTLS(cfg))
		}
	}
	def := 21
	if c.Type == mft.ConnFTPS {
		def = 990
	}
	conn, err := ftp.Dial(net.JoinHostPort(c.Host, strconv.Itoa(portOr(c.Port, def))), opts...)
	if err != nil {
		return nil, info, err
	}
	if err := conn.Login(c.Username, c.Password); err != nil {
		conn.Quit()
		return nil, info, err
	}
	return &ftpStore{conn: conn, base: c.BasePath}, info, nil
}

// ftpTLS verifies the server's certificate against the pinned
// fingerprint, the connection's CA, or the system's CAs, and the data
// connections resume the control connection's session (vsftpd's
// require_ssl_reuse).
func ftpTLS(c *mft.Connection, info *Info) (*tls.Config, error) {
	// TLS 1.2 exactly: vsftpd 3.0.x (Debian's, most Linux FTP servers)
	// loses the end of uploads over TLS 1.3 data connections ("426 Failure
	// reading network stream"), a known server bug.
	cfg := &tls.Config{ServerName: c.Host, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: tlscert.Suites,
		ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	if c.CACert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(c.CACert)) {
			return nil, errors.New("ca_cert holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	var pin []byte
	if c.TLSFingerprint != "" {
		var err error
		if pin, err = parseFingerprint(c.TLSFingerprint); err != nil {
			return nil, err
		}
		cfg.InsecureSkipVerify = true // replaced by the pin, checked below
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the server sent no certificate")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		info.Identity = "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
		if pin != nil && !bytes.Equal(sum[:], pin) {
			return fmt.Errorf("the server's certificate is %s, not the pinned %s: refusing to connect", info.Identity, c.TLSFingerprint)
		}
		return nil
	}
	return cfg, nil
}

// parseFingerprint reads "SHA256:<base64>" or hex (colons allowed).
func parseFingerprint(s string) ([]byte, error) {
	var b []byte
	var err error
	if rest, ok := strings.CutPrefix(s, "SHA256:"); ok {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(rest, "="))
	} else {
		b, err = hex.DecodeString(strings.ReplaceAll(s, ":", ""))
	}
	if err != nil || len(b) != sha256.Size {
		return nil, mft.Errorf(mft.EINVALID, "tls_fingerprint must be the certificate's SHA-256, as SHA256:<base64> or hex")
	}
	return b, nil
}

func (s *ftpStore) full(p string) string { return path.Join("/", s.base, p) }

func (s *ftpStore) List(ctx context.Context, dir string) ([]Entry, error) {
	list, err := s.conn.List(s.full(dir))
	if err != nil {
		return nil, s.fail(dir, err)
	}
	out := make([]Entry, 0, len(list))
	for _, e := range list {
		if e.Name == "." || e.Name == ".." || e.Type == ftp.EntryTypeLink {
			continue
		}
		out = append(out, Entry{Name: e.Name, Size: int64(e.Size), ModTime: e.Time, Dir: e.Type == ftp.EntryTypeFolder})
	}
	return out, nil
}

// Stat asks SIZE and MDTM, which every server has (vsftpd has no MLST).
func (s *ftpStore) Stat(ctx context.Context, p string) (Entry, error) {
	full := s.full(p)
	size, err := s.conn.FileSize(full)
	if err != nil {
		return Entry{}, s.fail(p, err)
	}
	e := Entry{Name: path.Base(full), Size: size}
	if s.conn.IsGetTimeSupported() {
		e.ModTime, _ = s.conn.GetTime(full)
	}
	return e, nil
}

func (s *ftpStore) Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	r, err := s.conn.RetrFrom(s.full(p), uint64(offset))
	if err != nil {
		return nil, s.fail(p, err)
	}
	return r, nil
}

func (s *ftpStore) Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error) {
	cr := &countReader{r: r}
	var err error
	if offset > 0 {
		err = s.conn.StorFrom(s.full(p), cr, uint64(offset))
	} else {
		err = s.conn.Stor(s.full(p), cr)
	}
	return cr.n, s.fail(p, err)
}

func (s *ftpStore) Rename(ctx context.Context, from, to string) error {
	return s.fail(from, s.conn.Rename(s.full(from), s.full(to)))
}

func (s *ftpStore) Remove(ctx context.Context, p string) error {
	return s.fail(p, s.conn.Delete(s.full(p)))
}

// Mkdir creates each missing folder from the top.
func (s *ftpStore) Mkdir(ctx context.Context, dir string) error {
	cur := "/"
	for _, part := range strings.Split(strings.Trim(s.full(dir), "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		if err := s.conn.MakeDir(cur); err != nil {
			// 550 for one that exists: fine if it is a folder now.
			if s.conn.ChangeDir(cur) != nil {
				return err
			}
		}
	}
	return nil
}

func (s *ftpStore) Caps() Caps { return Caps{AtomicRename: true, Resume: true} }

func (s *ftpStore) Close() error { return s.conn.Quit() }

// fail names a missing path (550) as ENOTFOUND.
func (s *ftpStore) fail(p string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code == ftp.StatusFileUnavailable && !strings.Contains(strings.ToLower(te.Msg), "permission") {
		return notFound(p)
	}
	return err
}

// countReader counts what is read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

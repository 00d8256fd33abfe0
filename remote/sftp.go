package remote

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path"
	"strconv"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"depot/mft"
)

// sftpPacket is what OpenSSH's sftp-server takes per read and write
// (255 KiB, its limits@openssh.com), eight times pkg/sftp's default.
const sftpPacket = 255 * 1024

// sftpStore is a remote SFTP server through pkg/sftp.
type sftpStore struct {
	conn   *ssh.Client
	client *sftp.Client
	base   string
}

func dialSFTP(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	var auths []ssh.AuthMethod
	if c.PrivateKey != "" {
		signer, err := ssh.ParsePrivateKey([]byte(c.PrivateKey))
		if err != nil {
			return nil, Info{}, errors.New("the private key cannot be read (an unencrypted OpenSSH or PEM key is needed)")
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if c.Password != "" {
		auths = append(auths, ssh.Password(c.Password))
	}
	config := &ssh.ClientConfig{
		User: c.Username,
		Auth: auths,
		Config: ssh.Config{
			Ciphers: []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr"},
			MACs:    []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"},
		},
		Timeout: Timeout,
	}
	addr := net.JoinHostPort(c.Host, strconv.Itoa(portOr(c.Port, 22)))
	sc, chans, reqs, seen, err := pinnedHandshake(ctx, addr, c.HostKey, config)
	if err != nil {
		return nil, Info{Identity: seen}, err
	}
	conn := ssh.NewClient(sc, chans, reqs)
	client, err := sftp.NewClient(conn, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64),
		sftp.MaxPacketUnchecked(sftpPacket))
	if err != nil {
		conn.Close()
		return nil, Info{Identity: seen}, err
	}
	return &sftpStore{conn: conn, client: client, base: c.BasePath}, Info{Identity: seen}, nil
}

func portOr(p, def int) int {
	if p == 0 {
		return def
	}
	return p
}

func (s *sftpStore) full(p string) string { return path.Join("/", s.base, p) }

func (s *sftpStore) List(ctx context.Context, dir string) ([]Entry, error) {
	fis, err := s.client.ReadDir(s.full(dir))
	if err != nil {
		return nil, s.fail(dir, err)
	}
	out := make([]Entry, 0, len(fis))
	for _, fi := range fis {
		out = append(out, Entry{Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime(), Dir: fi.IsDir()})
	}
	return out, nil
}

func (s *sftpStore) Stat(ctx context.Context, p string) (Entry, error) {
	fi, err := s.client.Stat(s.full(p))
	if err != nil {
		return Entry{}, s.fail(p, err)
	}
	return Entry{Name: fi.Name(), Size: fi.Size(), ModTime: fi.ModTime(), Dir: fi.IsDir()}, nil
}

func (s *sftpStore) Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	f, err := s.client.Open(s.full(p))
	if err != nil {
		return nil, s.fail(p, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	// WriteTo keeps 64 reads in flight for the whole file; Read would
	// drain them at the end of every buffer it is given.
	pr, pw := io.Pipe()
	go func() {
		_, err := f.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return &pipedFile{PipeReader: pr, f: f}, nil
}

// pipedFile reads a remote file that a goroutine streams into a pipe.
type pipedFile struct {
	*io.PipeReader
	f *sftp.File
}

func (p *pipedFile) Close() error {
	p.PipeReader.Close() // ends the WriteTo
	return p.f.Close()
}

func (s *sftpStore) Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error) {
	flags := os.O_WRONLY | os.O_CREATE
	if offset == 0 {
		flags |= os.O_TRUNC
	}
	f, err := s.client.OpenFile(s.full(p), flags)
	if err != nil {
		return 0, s.fail(p, err)
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return 0, err
	}
	n, err := f.ReadFrom(r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func (s *sftpStore) Rename(ctx context.Context, from, to string) error {
	if _, ok := s.client.HasExtension("posix-rename@openssh.com"); ok {
		return s.fail(from, s.client.PosixRename(s.full(from), s.full(to)))
	}
	if err := s.client.Remove(s.full(to)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s.fail(to, err)
	}
	return s.fail(from, s.client.Rename(s.full(from), s.full(to)))
}

func (s *sftpStore) Remove(ctx context.Context, p string) error {
	return s.fail(p, s.client.Remove(s.full(p)))
}

func (s *sftpStore) Mkdir(ctx context.Context, dir string) error {
	return s.fail(dir, s.client.MkdirAll(s.full(dir)))
}

func (s *sftpStore) Caps() Caps { return Caps{AtomicRename: true, Resume: true, Concurrent: true} }

func (s *sftpStore) Close() error {
	s.client.Close()
	return s.conn.Close()
}

// fail names a missing path as ENOTFOUND; other errors pass as they are.
func (s *sftpStore) fail(p string, err error) error {
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return notFound(p)
	}
	return err
}

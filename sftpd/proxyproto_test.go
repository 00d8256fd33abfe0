package sftpd_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/mft"
	"depot/sftpd"
)

// dialAs connects to e's SFTP server as p, first sending a PROXY v1
// header naming from as the partner's address when from is valid.
func (e *env) dialAs(t *testing.T, p partner, from netip.Addr) (*sftp.Client, error) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.ListenAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if from.IsValid() {
		h := proxyproto.HeaderProxyFromAddrs(1, &net.TCPAddr{IP: from.AsSlice(), Port: 40000}, e.srv.ListenAddr())
		if _, err := h.WriteTo(conn); err != nil {
			t.Fatal(err)
		}
	}
	c, chans, reqs, err := gossh.NewClientConn(conn, e.srv.ListenAddr().String(), &gossh.ClientConfig{User: p.user.Username,
		Auth: []gossh.AuthMethod{gossh.PublicKeys(p.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		conn.Close()
		return nil, err
	}
	client, err := sftp.NewClient(gossh.NewClient(c, chans, reqs))
	if err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { client.Close() })
	return client, nil
}

// Behind a load balancer that speaks the PROXY protocol, the partner's
// address is the one the header names: allowed_ips holds against it and
// the live sessions show it. The balancer must send the header; a
// partner connecting directly cannot send one to pose as another.
func TestProxyProtocol_PartnerAddressFromTheBalancer(t *testing.T) {
	balancer := netip.MustParsePrefix("127.0.0.1/32")
	e := openEnv(t, func(s *sftpd.Server) { s.ProxyFrom = []netip.Prefix{balancer} })
	p := e.addUser(t, "acme", func(u *mft.User) { u.AllowedIPs = []string{"192.0.2.50"} })
	c, err := e.dialAs(t, p, netip.MustParseAddr("192.0.2.50"))
	if err != nil {
		t.Fatalf("the partner at an allowed address, through the balancer: %v", err)
	}
	if _, err := c.Getwd(); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range e.srv.Sessions() {
		found = found || s.IP == "192.0.2.50"
	}
	if !found {
		t.Fatalf("sessions %+v; want one from 192.0.2.50", e.srv.Sessions())
	}
	if _, err := e.dialAs(t, p, netip.MustParseAddr("192.0.2.51")); err == nil {
		t.Fatal("a partner at an address allowed_ips does not list logged in")
	}
	if _, err := e.dialAs(t, p, netip.Addr{}); err == nil {
		t.Fatal("a connection from the balancer without a PROXY header was served")
	}

	// From an address not listed (another balancer listed here), or
	// without proxy_protocol_from, a header is not believed: the
	// connection fails.
	for _, from := range [][]netip.Prefix{{netip.MustParsePrefix("198.51.100.0/24")}, nil} {
		direct := openEnv(t, func(s *sftpd.Server) { s.ProxyFrom = from })
		q := direct.addUser(t, "acme", func(u *mft.User) { u.AllowedIPs = []string{"192.0.2.50"} })
		if _, err := direct.dialAs(t, q, netip.MustParseAddr("192.0.2.50")); err == nil {
			t.Fatalf("a PROXY header from a partner was believed (proxy_protocol_from %v)", from)
		}
		if _, err := direct.dialAs(t, q, netip.Addr{}); err == nil {
			t.Fatalf("a partner at an address allowed_ips does not list logged in (proxy_protocol_from %v)", from)
		}
	}
}

package sftpd

import (
	"net"
	"net/netip"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

// proxyHeaderTimeout is how long a balancer's connection may take to send
// its PROXY header.
const proxyHeaderTimeout = 5 * time.Second

// proxyProtocol wraps ln so that connections from ProxyFrom must begin
// with a PROXY header, whose source address becomes the connection's
// remote address. Other connections are passed as they are: a header
// there is not SSH, and the handshake fails (a partner cannot claim
// another's address).
func (s *Server) proxyProtocol(ln net.Listener) net.Listener {
	if len(s.ProxyFrom) == 0 {
		return ln
	}
	return &proxyproto.Listener{Listener: ln, ReadHeaderTimeout: proxyHeaderTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if ap, err := netip.ParseAddrPort(o.Upstream.String()); err == nil {
				for _, p := range s.ProxyFrom {
					if p.Contains(ap.Addr().Unmap()) {
						return proxyproto.REQUIRE, nil
					}
				}
			}
			return proxyproto.SKIP, nil
		}}
}

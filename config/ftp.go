package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FTP configures the FTPS server (see ftpd). It is off unless enabled;
// users also need "ftp" in their protocols.
type FTP struct {
	Enabled bool `toml:"enabled"`
	// Listen is the explicit-TLS port (AUTH TLS); ImplicitListen, when
	// set, a second port where TLS starts at once (the 990 style).
	Listen         string `toml:"listen"`
	ImplicitListen string `toml:"implicit_listen"`
	// PassivePorts is the range data connections are opened on, "low-high".
	PassivePorts string `toml:"passive_ports"`
	// PublicHost is the IPv4 address told to clients in PASV answers
	// (behind NAT); empty: the address the client connected to.
	PublicHost string `toml:"public_host"`
	// TLSCert and TLSKey are FTPS's own certificate; empty: the HTTPS one,
	// else the self-signed one made in the data directory.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// AllowPlain lets clients log in without TLS (a warning at start).
	AllowPlain            bool     `toml:"allow_plain"`
	IdleTimeout           Duration `toml:"idle_timeout"`
	LoginGraceTime        Duration `toml:"login_grace_time"`
	MaxConnections        int      `toml:"max_connections"`
	MaxConnectionsPerUser int      `toml:"max_connections_per_user"`
	// SyncUploads syncs every FTP upload to disk before its 226.
	SyncUploads bool `toml:"sync_uploads"`
}

func defaultFTP() FTP {
	return FTP{Listen: ":2121", PassivePorts: "50000-50100", IdleTimeout: Duration(15 * time.Minute),
		LoginGraceTime: Duration(2 * time.Minute), MaxConnections: 500, MaxConnectionsPerUser: 20}
}

// PassiveRange returns passive_ports as its first and last port.
func (f FTP) PassiveRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(f.PassivePorts, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("ftp.passive_ports %q must be a range low-high of ports from 1024 to 65535", f.PassivePorts)
	}
	return lo, hi, nil
}

func (f FTP) validate() error {
	if !f.Enabled {
		return nil
	}
	if err := checkListen("ftp.listen", f.Listen); err != nil {
		return err
	}
	if f.ImplicitListen != "" {
		if err := checkListen("ftp.implicit_listen", f.ImplicitListen); err != nil {
			return err
		}
	}
	if _, _, err := f.PassiveRange(); err != nil {
		return err
	}
	if f.PublicHost != "" {
		if a, err := netip.ParseAddr(f.PublicHost); err != nil || !a.Is4() {
			return fmt.Errorf("ftp.public_host %q must be an IPv4 address (PASV answers carry one)", f.PublicHost)
		}
	}
	if (f.TLSCert == "") != (f.TLSKey == "") {
		return fmt.Errorf("ftp.tls_cert and ftp.tls_key must be set together")
	}
	if f.MaxConnections < 1 || f.MaxConnectionsPerUser < 1 {
		return fmt.Errorf("ftp.max_connections and ftp.max_connections_per_user must be at least 1")
	}
	if f.IdleTimeout.D() < time.Second || f.LoginGraceTime.D() < time.Second {
		return fmt.Errorf("ftp.idle_timeout and ftp.login_grace_time must be at least 1s")
	}
	return nil
}

package app

import (
	"net"
	"net/url"
	"os"
	"time"

	"depot/config"
	"depot/tlscert"
)

// openTLS loads the HTTPS certificate, or makes the self-signed one, and
// hands it to the HTTP server.
func (a *App) openTLS(cfg *config.Config) error {
	if !cfg.HTTP.TLSOn() {
		return nil
	}
	var err error
	if cfg.HTTP.TLS == "self-signed" {
		a.TLS, err = tlscert.SelfSigned(cfg.Data.Dir, selfSignedHosts(cfg.HTTP.PublicURL), time.Now())
	} else {
		a.TLS, err = tlscert.Load(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey)
	}
	if err != nil {
		return err
	}
	a.HTTP.TLS, a.HTTP.RedirectAddr = a.TLS.Config(), cfg.HTTP.RedirectListen
	return nil
}

// selfSignedHosts are the names a self-signed certificate is made for:
// public_url's host first, then this machine's name and loopback.
func selfSignedHosts(publicURL string) []string {
	var hosts []string
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	return append(hosts, "localhost", net.IPv4(127, 0, 0, 1).String(), net.IPv6loopback.String())
}

// ReloadTLS reads the HTTPS certificate files again (SIGHUP): new
// connections get the new certificate, those open keep theirs. Without
// HTTPS there is nothing to reload.
func (a *App) ReloadTLS() error {
	if a.TLS == nil {
		return nil
	}
	return a.TLS.Reload()
}

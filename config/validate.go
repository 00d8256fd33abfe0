package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"depot/mft"
)

// Validate reports the first bad setting, naming its key.
func (c *Config) Validate() error {
	if c.Data.Dir == "" {
		return errors.New("data.dir must not be empty")
	}
	switch {
	case c.Database.Driver != "bolt" && c.Database.Driver != "postgres":
		return fmt.Errorf("database.driver must be \"bolt\" or \"postgres\", not %q", c.Database.Driver)
	case c.Database.Driver == "postgres" && c.Database.DSN == "":
		return errors.New("database.dsn must name the PostgreSQL database when database.driver is \"postgres\"")
	case c.Database.Driver == "bolt" && c.Database.DSN != "":
		return errors.New("database.dsn is set but database.driver is \"bolt\": set driver = \"postgres\" to use it, or remove dsn")
	case c.Database.Shared && c.Database.Driver != "postgres":
		return errors.New("database.shared needs database.driver = \"postgres\": nodes share a PostgreSQL database, not a bbolt file")
	}
	if c.Filedrop.HoldingFiles < 1 || c.Filedrop.HoldingFilesPerAddress < 1 || c.Filedrop.HoldingFilesPerAddress > c.Filedrop.HoldingFiles {
		return fmt.Errorf("filedrop.holding_files and holding_files_per_address must be at least 1, the second at most the first")
	}
	if c.AS2.MaxMessageMB < 1 || c.AS2.MaxMessageMB > 4096 || c.AS2.RateLimit <= 0 || c.AS2.RateBurst < 1 || c.AS2.MDNWait.D() < time.Second {
		return fmt.Errorf("as2.max_message_mb must be 1 to 4096, as2.rate_limit above 0, as2.rate_burst at least 1, as2.mdn_wait at least 1s")
	}
	if err := c.FTP.validate(); err != nil {
		return err
	}
	if err := c.LDAP.validate(); err != nil {
		return err
	}
	if err := c.OIDC.validate(); err != nil {
		return err
	}
	if err := c.Scan.validate(); err != nil {
		return err
	}
	if c.Data.MaxPendingUploads < 1 {
		return fmt.Errorf("data.max_pending_uploads must be at least 1")
	}
	if err := checkListen("http.listen", c.HTTP.Listen); err != nil {
		return err
	}
	if err := checkListen("sftp.listen", c.SFTP.Listen); err != nil {
		return err
	}
	if c.SFTP.MaxConnections < 1 || c.SFTP.MaxConnectionsPerUser < 1 || c.SFTP.MaxTransfers < 1 || c.SFTP.MaxUnauthenticatedPerIP < 1 {
		return fmt.Errorf("sftp.max_connections, sftp.max_connections_per_user, sftp.max_transfers and sftp.max_unauthenticated_per_ip must be at least 1")
	}
	if c.SFTP.LoginGraceTime.D() < time.Second {
		return fmt.Errorf("sftp.login_grace_time must be at least 1s")
	}
	if c.SFTP.IdleTimeout.D() < time.Second {
		return fmt.Errorf("sftp.idle_timeout must be at least 1s")
	}
	for _, l := range []struct {
		key          string
		names, known []string
	}{{"ciphers", c.SFTP.Ciphers, SFTPCiphers}, {"key_exchanges", c.SFTP.KeyExchanges, SFTPKeyExchanges}, {"macs", c.SFTP.MACs, SFTPMACs}} {
		if len(l.names) == 0 {
			return fmt.Errorf("sftp.%s must name at least one of %s", l.key, strings.Join(l.known, ", "))
		}
		for _, name := range l.names {
			if !slices.Contains(l.known, name) {
				return fmt.Errorf("sftp.%s: %q is not one of %s", l.key, name, strings.Join(l.known, ", "))
			}
		}
	}
	if c.HTTP.PublicURL != "" {
		u, err := url.Parse(c.HTTP.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("http.public_url %q must be an absolute http or https URL such as https://depot.example.com", c.HTTP.PublicURL)
		}
	}
	if c.Metrics.Listen != "" {
		if err := checkListen("metrics.listen", c.Metrics.Listen); err != nil {
			return err
		}
	}
	if err := c.HTTP.validateTLS(); err != nil {
		return err
	}
	if c.Automation.Workers < 1 || c.Automation.Workers > 256 {
		return fmt.Errorf("automation.workers must be 1 to 256")
	}
	if c.Automation.MaxQueued < 1 || c.HTTP.MaxUploads < 1 {
		return fmt.Errorf("automation.max_queued and http.max_uploads must be at least 1")
	}
	if c.SMTP.Host != "" {
		switch {
		case c.SMTP.Port < 1 || c.SMTP.Port > 65535:
			return fmt.Errorf("smtp.port must be 1 to 65535")
		case !strings.Contains(c.SMTP.From, "@"):
			return fmt.Errorf("smtp.from must be the sender address, such as depot@example.com")
		case c.SMTP.TLS != "starttls" && c.SMTP.TLS != "tls" && c.SMTP.TLS != "none":
			return fmt.Errorf("smtp.tls must be starttls, tls or none")
		}
	}
	if _, err := c.SFTP.ProxyProtocol(); err != nil {
		return err
	}
	if _, err := c.HTTP.Proxies(); err != nil {
		return err
	}
	for key, d := range map[string]Duration{
		"http.read_header_timeout": c.HTTP.ReadHeaderTimeout,
		"http.idle_timeout":        c.HTTP.IdleTimeout,
		"http.json_body_timeout":   c.HTTP.JSONBodyTimeout,
		"http.min_upload_window":   c.HTTP.MinUploadWindow,
		"auth.token_ttl":           c.Auth.TokenTTL,
		"defender.window":          c.Defender.Window,
		"defender.ban_time":        c.Defender.BanTime,
		"audit.retention":          c.Audit.Retention,
		"web.session_ttl":          c.Web.SessionTTL,
		"web.session_idle":         c.Web.SessionIdle,
	} {
		if d < Duration(time.Millisecond) { // a bare TOML number is read as nanoseconds
			return fmt.Errorf("%s must be a positive duration such as \"30s\" or \"5m\" (in quotes, with its unit)", key)
		}
	}
	if c.HTTP.MaxJSONBytes < 1024 {
		return errors.New("http.max_json_bytes must be at least 1024")
	}
	if c.HTTP.MinUploadRate < 0 {
		return errors.New("http.min_upload_rate must not be negative (0 turns the check off)")
	}
	if c.HTTP.RateLimit < 0 || c.HTTP.RateBurst < 0 {
		return errors.New("http.rate_limit and http.rate_burst must not be negative (0 turns rate limiting off)")
	}
	if c.Runtime.MemoryLimitMB < 0 {
		return errors.New("runtime.memory_limit_mb must not be negative (0 leaves the Go runtime's default)")
	}
	if c.Runtime.GCFloorMB < 0 {
		return errors.New("runtime.gc_floor_mb must not be negative (0: none)")
	}
	if c.Runtime.GCPercent < 0 {
		return errors.New("runtime.gc_percent must not be negative (0 leaves the Go runtime's default, 100)")
	}
	if c.Defender.Enabled && c.Defender.MaxFailures < 1 {
		return errors.New("defender.max_failures must be at least 1 when the defender is enabled")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q must be debug, info, warn or error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format %q must be text or json", c.Log.Format)
	}
	if c.AdminAPIKey != "" && (len(c.AdminAPIKey) < 20 || strings.ContainsAny(c.AdminAPIKey, ": \t\r\n")) {
		return errors.New("DEPOT_ADMIN_API_KEY must be at least 20 characters without spaces or colons")
	}
	return nil
}

func checkListen(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%s %q must be host:port or :port", key, addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%s %q has an invalid port", key, addr)
	}
	return nil
}

// Proxies returns trusted_proxies parsed: the addresses whose
// X-Forwarded-For is believed.
func (h HTTP) Proxies() ([]netip.Prefix, error) {
	return prefixes("http.trusted_proxies", h.TrustedProxies)
}

// ProxyProtocol returns proxy_protocol_from parsed.
func (s SFTP) ProxyProtocol() ([]netip.Prefix, error) {
	return prefixes("sftp.proxy_protocol_from", s.ProxyProtocolFrom)
}

// prefixes parses the addresses and CIDR ranges of setting key.
func prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range list {
		pr, err := mft.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not an IP address or CIDR range", key, p)
		}
		out = append(out, pr)
	}
	return out, nil
}

// TLSOn says whether the API is served over HTTPS.
func (h *HTTP) TLSOn() bool { return h.TLS == "self-signed" || h.TLSCert != "" }

func (h *HTTP) validateTLS() error {
	switch {
	case h.TLS != "" && h.TLS != "self-signed":
		return fmt.Errorf("http.tls %q must be empty (HTTPS with http.tls_cert and http.tls_key) or \"self-signed\"", h.TLS)
	case h.TLS == "self-signed" && (h.TLSCert != "" || h.TLSKey != ""):
		return fmt.Errorf("http.tls = \"self-signed\" makes its own certificate: leave http.tls_cert and http.tls_key empty")
	case (h.TLSCert == "") != (h.TLSKey == ""):
		return fmt.Errorf("http.tls_cert and http.tls_key go together: the certificate chain and its private key, PEM files")
	case h.RedirectListen != "" && !h.TLSOn():
		return fmt.Errorf("http.redirect_listen redirects plain HTTP to HTTPS: set http.tls_cert and http.tls_key or http.tls = \"self-signed\" too")
	case h.TLSOn() && strings.HasPrefix(h.PublicURL, "http://"):
		return fmt.Errorf("http.public_url %q is http:// but the API is served over HTTPS: make it https://", h.PublicURL)
	}
	if h.RedirectListen != "" {
		return checkListen("http.redirect_listen", h.RedirectListen)
	}
	return nil
}

func (s Scan) validate() error {
	switch {
	case s.Engine != "none" && s.Engine != "clamd" && s.Engine != "icap":
		return fmt.Errorf("scan.engine %q must be none, clamd or icap", s.Engine)
	case s.Engine != "none" && s.Address == "":
		return fmt.Errorf("scan.address is required with scan.engine %q", s.Engine)
	case s.Oversize != "refuse" && s.Oversize != "allow":
		return fmt.Errorf("scan.oversize must be refuse or allow")
	case s.OnError != "refuse" && s.OnError != "allow":
		return fmt.Errorf("scan.on_error must be refuse or allow")
	case s.ICAPMethod != "RESPMOD" && s.ICAPMethod != "REQMOD":
		return fmt.Errorf("scan.icap_method must be RESPMOD or REQMOD")
	case s.MaxSizeMB < 0 || s.QuarantineMB < 0 || s.Timeout.D() < time.Second:
		return fmt.Errorf("scan.max_size_mb and scan.quarantine_mb must not be negative, scan.timeout at least 1s")
	}
	return nil
}

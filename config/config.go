// Package config loads Depot's settings: built-in defaults, then an optional
// TOML file (unknown keys are an error), then DEPOT_<SECTION>_<KEY>
// environment variables, then validation that names the offending key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Config is every setting of a Depot server. Field tags name the TOML keys;
// the environment variable of a key is DEPOT_<SECTION>_<KEY> in upper case.
type Config struct {
	Data       Data       `toml:"data"`
	Database   Database   `toml:"database"`
	HTTP       HTTP       `toml:"http"`
	SFTP       SFTP       `toml:"sftp"`
	FTP        FTP        `toml:"ftp"`
	LDAP       LDAP       `toml:"ldap"`
	OIDC       OIDC       `toml:"oidc"`
	Auth       Auth       `toml:"auth"`
	Defender   Defender   `toml:"defender"`
	Audit      Audit      `toml:"audit"`
	SMTP       SMTP       `toml:"smtp"`
	Automation Automation `toml:"automation"`
	Filedrop   Filedrop   `toml:"filedrop"`
	AS2        AS2        `toml:"as2"`
	Scan       Scan       `toml:"scan"`
	Log        Log        `toml:"log"`
	Runtime    Runtime    `toml:"runtime"`
	Metrics    Metrics    `toml:"metrics"`
	Web        Web        `toml:"web"`

	// AdminAPIKey comes only from DEPOT_ADMIN_API_KEY: on first start it
	// becomes the API key of admin@localhost.
	AdminAPIKey string `toml:"-"`
	// AdminKeyFile comes from DEPOT_ADMIN_KEY_FILE or `depot init
	// --admin-key-file`: the first start writes the key it makes for
	// admin@localhost to this file (mode 0600) instead of printing it, so
	// that it never reaches a log (the .deb writes /etc/depot/admin-key).
	AdminKeyFile string `toml:"-"`
}

// Web configures the browser client's sessions (kept in memory: a
// restart signs everyone out).
type Web struct {
	// SessionTTL is how long a sign-in lasts; SessionIdle ends a session
	// unused that long.
	SessionTTL  Duration `toml:"session_ttl"`
	SessionIdle Duration `toml:"session_idle"`
}

// Metrics configures the Prometheus endpoint: /metrics on the API with
// an administrator's key, and without a key on Listen when it is set (an
// address only the monitoring reaches).
type Metrics struct {
	Listen string `toml:"listen"`
}

// Data says where Depot keeps its database and files.
type Data struct {
	Dir string `toml:"dir"`
	// SyncUploads makes every upload over HTTP, and every file an
	// automation writes, durable (file and folder synced to disk) before
	// it is published and acknowledged. Off, it is acknowledged once it is
	// in the page cache; a power loss can then lose recent uploads. SFTP
	// uploads follow sftp.sync_uploads instead.
	SyncUploads bool `toml:"sync_uploads"`
	// MaxPendingUploads bounds the chunked uploads one uploader (a user,
	// a filedrop, an upload link's creator) may have unfinished at once.
	MaxPendingUploads int `toml:"max_pending_uploads"`
}

// Database says where the metadata lives: "bolt" (the default), one bbolt
// file in data.dir; or "postgres", the PostgreSQL database at DSN.
type Database struct {
	Driver string `toml:"driver"`
	// DSN is a PostgreSQL URL or key=value connection string.
	DSN string `toml:"dsn"`
	// Shared lets several nodes use the PostgreSQL database at once; set
	// on every node, whose data.dir is then one shared filesystem.
	// Without it a second node is refused.
	Shared bool `toml:"shared"`
}

// HTTP configures the admin and user API and the public pages.
type HTTP struct {
	Listen    string `toml:"listen"`
	PublicURL string `toml:"public_url"`
	// TLS is "" (HTTPS when tls_cert is set) or "self-signed".
	TLS               string   `toml:"tls"`
	TLSCert           string   `toml:"tls_cert"`
	TLSKey            string   `toml:"tls_key"`
	RedirectListen    string   `toml:"redirect_listen"`
	TrustedProxies    []string `toml:"trusted_proxies"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	MaxJSONBytes      int64    `toml:"max_json_bytes"`
	JSONBodyTimeout   Duration `toml:"json_body_timeout"`
	MinUploadRate     int64    `toml:"min_upload_rate"`
	MinUploadWindow   Duration `toml:"min_upload_window"`
	MaxUploads        int      `toml:"max_uploads"`
	RateLimit         float64  `toml:"rate_limit"`
	RateBurst         int      `toml:"rate_burst"`
}

// SFTPCiphers are the ciphers sftp.ciphers may name: AEAD or CTR modes
// only.
var SFTPCiphers = []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
	"aes128-ctr", "aes192-ctr", "aes256-ctr"}

// SFTPKeyExchanges are the key exchanges sftp.key_exchanges may name. The
// NIST-curve ECDH and the 2048-bit DH group are for old clients only
// (ssh-audit fails the curves); SHA-1 groups are never offered.
var SFTPKeyExchanges = []string{"mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org",
	"ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "diffie-hellman-group14-sha256",
	"diffie-hellman-group16-sha512"}

// SFTPMACs are the MACs sftp.macs may name: SHA-2, encrypt-then-MAC or,
// for old clients, encrypt-and-MAC (ssh-audit warns of those).
var SFTPMACs = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"}

// SFTP configures the SFTP daemon.
type SFTP struct {
	Listen                string   `toml:"listen"`
	PublicHost            string   `toml:"public_host"`
	IdleTimeout           Duration `toml:"idle_timeout"`
	MaxConnections        int      `toml:"max_connections"`
	MaxConnectionsPerUser int      `toml:"max_connections_per_user"`
	MaxTransfers          int      `toml:"max_transfers"`
	// MaxUnauthenticatedPerIP bounds the connections from one address
	// still logging in; LoginGraceTime is how long a login may take.
	MaxUnauthenticatedPerIP int      `toml:"max_unauthenticated_per_ip"`
	LoginGraceTime          Duration `toml:"login_grace_time"`
	Ciphers                 []string `toml:"ciphers"`
	KeyExchanges            []string `toml:"key_exchanges"`
	MACs                    []string `toml:"macs"`
	// SyncUploads makes every SFTP upload durable before its close is
	// acknowledged. Off (the default, as OpenSSH's sftp-server), an upload
	// is synced only when the client asks with fsync@openssh.com (put -f).
	SyncUploads bool `toml:"sync_uploads"`
	// RequireSecondFactorWithKeys asks an account with two-factor codes
	// for a code after its SSH key too (OpenSSH's AuthenticationMethods
	// publickey,keyboard-interactive).
	RequireSecondFactorWithKeys bool `toml:"require_second_factor_with_keys"`
	// ProxyProtocolFrom are the load balancers (addresses or CIDR ranges)
	// whose connections begin with a PROXY protocol header naming the
	// partner's address; from anywhere else such a header is refused.
	ProxyProtocolFrom []string `toml:"proxy_protocol_from"`
}

// Auth configures logins.
type Auth struct {
	TokenTTL Duration `toml:"token_ttl"`
}

// Defender configures IP bans after failed logins.
type Defender struct {
	Enabled     bool     `toml:"enabled"`
	MaxFailures int      `toml:"max_failures"`
	Window      Duration `toml:"window"`
	BanTime     Duration `toml:"ban_time"`
}

// Audit configures the audit log.
type Audit struct {
	Retention Duration `toml:"retention"`
}

// SMTP configures outgoing email (filedrop notifications and validation
// codes). An empty host means Depot sends no email.
type SMTP struct {
	Host     string `toml:"host"`
	Port     int    `toml:"port"`
	Username string `toml:"username"`
	Password string `toml:"password"`
	From     string `toml:"from"`
	// TLS is "starttls" (required upgrade), "tls" (implicit, port 465) or
	// "none" (plain, for a relay on localhost only).
	TLS string `toml:"tls"`
}

// Automation configures the runner of automations and webhooks.
type Automation struct {
	// Workers is how many runs and webhook deliveries go at once.
	Workers int `toml:"workers"`
	// MaxQueued bounds the runs waiting for a worker that an API call may
	// add to (POST …/run, trigger URLs: a 503 beyond it); runs of events
	// and schedules are always queued, and kept in the database.
	MaxQueued int `toml:"max_queued"`
}

// Filedrop bounds what anonymous senders hold on a filedrop before they
// deliver: uploads not delivered take at most HoldingFiles times the
// filedrop's max_filesize in all, and HoldingFilesPerAddress times from
// one sender address (an IPv6 /64).
type Filedrop struct {
	HoldingFiles           int `toml:"holding_files"`
	HoldingFilesPerAddress int `toml:"holding_files_per_address"`
}

// AS2 configures the AS2 station: POST /as2 and /as2/mdn.
type AS2 struct {
	// MaxMessageMB caps one message, received (the HTTP body, and what a
	// compressed one inflates to) or sent; messages are held in memory
	// while they are opened or built.
	MaxMessageMB int64 `toml:"max_message_mb"`
	// RateLimit and RateBurst are each sender address's own allowance of
	// messages per second on the AS2 routes.
	RateLimit float64 `toml:"rate_limit"`
	RateBurst int     `toml:"rate_burst"`
	// MDNWait bounds how long a send waits for an asynchronous MDN.
	MDNWait Duration `toml:"mdn_wait"`
}

// Scan configures the antivirus every upload goes through before it is
// published.
type Scan struct {
	// Engine is none, clamd or icap; Address reaches it (clamd:
	// unix:/run/clamav/clamd.ctl or tcp:host:3310; ICAP:
	// icap://host:1344/service).
	Engine  string   `toml:"engine"`
	Address string   `toml:"address"`
	Timeout Duration `toml:"timeout"`
	// MaxSizeMB is the most sent to the engine (0: the engine's own
	// limit, clamd's StreamMaxLength); Oversize says what happens to a
	// larger file: refuse, or allow (published unscanned, audited).
	MaxSizeMB int64  `toml:"max_size_mb"`
	Oversize  string `toml:"oversize"`
	// OnError is refuse (503 with Retry-After, nothing published) or
	// allow (published unscanned, audited) when the engine fails.
	OnError string `toml:"on_error"`
	// QuarantineMB bounds data/quarantine; the oldest go first.
	QuarantineMB int64 `toml:"quarantine_mb"`
	// ICAPMethod is RESPMOD (the default) or REQMOD, as the ICAP server
	// is set up to scan.
	ICAPMethod string `toml:"icap_method"`
}

// Runtime configures the Go runtime under Depot.
type Runtime struct {
	// MemoryLimitMB is a soft limit on the memory the runtime uses (the
	// heap, stacks and buffers; GOMEMLIMIT, which wins when set): near it
	// the garbage collector runs more often instead of letting the heap
	// grow to twice what is live. 0 leaves the runtime's default (none).
	MemoryLimitMB int64 `toml:"memory_limit_mb"`
	// GCPercent is how far the heap grows over what is live before a
	// collection (GOGC, which wins when set). Streams allocate and drop
	// buffers at speed: 400 made a 1 GiB pull from an SFTP server 11 %
	// faster, and 500 busy SFTP sessions peak at 1,086 MiB instead of
	// 960 (the memory limit is soft). 100, Go's own, is the default; 0
	// leaves the runtime's (GOGC's) choice.
	GCPercent int `toml:"gc_percent"`
	// GCFloorMB is heap the collector counts as live without it being
	// used: a block of that size that is never touched (not resident, no
	// pointers to scan). With little live, Go collects every few MiB
	// allocated; a transfer drops its buffers at speed, and a 1 GiB pull
	// from an SFTP server ran 12 % faster with 128. The block counts
	// toward memory_limit_mb (and is at most a quarter of it), so under
	// load the limit holds as before. 0 = none.
	GCFloorMB int64 `toml:"gc_floor_mb"`
}

// Log configures the structured log on standard error.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Default returns the built-in settings, the ones `depot serve` uses with
// no file and no environment.
func Default() *Config {
	return &Config{
		Data:     Data{Dir: "./data", SyncUploads: true, MaxPendingUploads: 100},
		Database: Database{Driver: "bolt"},
		HTTP: HTTP{
			Listen:            ":8080",
			TrustedProxies:    []string{},
			ReadHeaderTimeout: Duration(10 * time.Second),
			IdleTimeout:       Duration(2 * time.Minute),
			MaxJSONBytes:      1 << 20,
			JSONBodyTimeout:   Duration(30 * time.Second),
			MinUploadRate:     1024,
			MinUploadWindow:   Duration(time.Minute),
			MaxUploads:        64,
			RateLimit:         50,
			RateBurst:         100,
		},
		SFTP: SFTP{Listen: ":2022", IdleTimeout: Duration(15 * time.Minute),
			MaxConnections: 500, MaxConnectionsPerUser: 20, MaxTransfers: 16,
			MaxUnauthenticatedPerIP: 10, LoginGraceTime: Duration(2 * time.Minute),
			Ciphers:      []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"},
			KeyExchanges: []string{"mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org"},
			MACs:         []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"}},
		FTP:        defaultFTP(),
		LDAP:       defaultLDAP(),
		OIDC:       defaultOIDC(),
		Auth:       Auth{TokenTTL: Duration(24 * time.Hour)},
		SMTP:       SMTP{Port: 587, TLS: "starttls"},
		Automation: Automation{Workers: 4, MaxQueued: 1000},
		Filedrop:   Filedrop{HoldingFiles: 10, HoldingFilesPerAddress: 2},
		AS2:        AS2{MaxMessageMB: 100, RateLimit: 20, RateBurst: 40, MDNWait: Duration(10 * time.Minute)},
		Scan:       Scan{Engine: "none", Timeout: Duration(time.Minute), Oversize: "refuse", OnError: "refuse", QuarantineMB: 1024, ICAPMethod: "RESPMOD"},
		Defender:   Defender{Enabled: true, MaxFailures: 10, Window: Duration(5 * time.Minute), BanTime: Duration(15 * time.Minute)},
		Audit:      Audit{Retention: Duration(90 * 24 * time.Hour)},
		Log:        Log{Level: "info", Format: "text"},
		Runtime:    Runtime{MemoryLimitMB: 960, GCPercent: 100, GCFloorMB: 128},
		Web:        Web{SessionTTL: Duration(12 * time.Hour), SessionIdle: Duration(time.Hour)},
	}
}

// Load returns the defaults overlaid with the file at path (if path is not
// empty) and with the DEPOT_* variables in environ (as from os.Environ).
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decodeFile(data, cfg); err != nil {
			return nil, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if err := applyEnv(cfg, environ); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

func decodeFile(data []byte, cfg *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(cfg)
	var missing *toml.StrictMissingError
	var decErr *toml.DecodeError
	switch {
	case errors.As(err, &missing):
		var keys []string
		for _, e := range missing.Errors {
			keys = append(keys, strings.Join(e.Key(), "."))
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	case errors.As(err, &decErr):
		row, col := decErr.Position()
		key := strings.Join(decErr.Key(), ".")
		if m := typeMismatch.FindStringSubmatch(decErr.Error()); m != nil && key != "" {
			return fmt.Errorf("line %d: %s must be %s, not %s", row, key, goTypeWords(m[2]), withArticle(m[1]))
		}
		if key != "" {
			return fmt.Errorf("line %d column %d: key %s: %s", row, col, key, decErr.Error())
		}
		return fmt.Errorf("line %d column %d: %s", row, col, decErr.Error())
	}
	return err
}

// Duration is a time.Duration written as "30s", "5m" or "24h".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 30s, 5m or 24h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// typeMismatch is go-toml's message for a value of the wrong type, which
// names Go's struct path and type.
var typeMismatch = regexp.MustCompile(`cannot decode TOML (\w+) into struct field \S+ of type (\S+)`)

// goTypeWords names a setting's Go type as what to write in TOML.
func goTypeWords(t string) string {
	switch t {
	case "int", "int64":
		return "a whole number"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string in quotes"
	case "[]string":
		return `a list of strings such as ["a", "b"]`
	case "config.Duration":
		return `a duration such as "30s" or "5m"`
	}
	return t
}

// SFTPHost is the host partners are told to connect to over SFTP (the web
// client's Account page, bucket hosts): sftp.public_host when set, else
// the host of http.public_url, else localhost.
func (c *Config) SFTPHost() string {
	if c.SFTP.PublicHost != "" {
		return c.SFTP.PublicHost
	}
	if u, err := url.Parse(c.HTTP.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "localhost"
}

// LoopbackName reports whether host names this machine only (localhost,
// 127.0.0.0/8, ::1), so that other machines cannot reach it by that name.
func LoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// LoopbackListener reports whether a listen address takes connections from
// this machine only.
func LoopbackListener(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && LoopbackName(host)
}

// withArticle puts "a" or "an" before a noun: "an integer", "a string".
func withArticle(noun string) string {
	if noun != "" && strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

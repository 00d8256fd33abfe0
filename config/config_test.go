package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/config"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "depot.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad_Defaults(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Data.Dir != "./data" || cfg.HTTP.Listen != ":8080" || cfg.SFTP.Listen != ":2022" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestLoad_FileThenEnv(t *testing.T) {
	path := writeConfig(t, `
[data]
dir = "/srv/depot"
[http]
listen = "127.0.0.1:9000"
trusted_proxies = ["10.0.0.1"]
[auth]
token_ttl = "2h"
`)
	cfg, err := config.Load(path, []string{
		"DEPOT_HTTP_LISTEN=127.0.0.1:9100",
		"DEPOT_HTTP_PUBLIC_URL=https://depot.example.com",
		"DEPOT_SFTP_LISTEN=:2200",
		"DEPOT_DEFENDER_MAX_FAILURES=3",
		"DEPOT_HTTP_TRUSTED_PROXIES=10.0.0.1, 10.0.0.2/32",
		"DEPOT_ADMIN_API_KEY=abcdefghijklmnopqrstuvwxyz",
		"PATH=/usr/bin",
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]any{
		"data.dir":         {cfg.Data.Dir, "/srv/depot"},
		"http.listen":      {cfg.HTTP.Listen, "127.0.0.1:9100"},
		"http.public_url":  {cfg.HTTP.PublicURL, "https://depot.example.com"},
		"sftp.listen":      {cfg.SFTP.Listen, ":2200"},
		"auth.token_ttl":   {cfg.Auth.TokenTTL.D(), 2 * time.Hour},
		"max_failures":     {cfg.Defender.MaxFailures, 3},
		"proxies":          {strings.Join(cfg.HTTP.TrustedProxies, ","), "10.0.0.1,10.0.0.2/32"},
		"admin key":        {cfg.AdminAPIKey, "abcdefghijklmnopqrstuvwxyz"},
		"untouched (rate)": {cfg.HTTP.RateBurst, config.Default().HTTP.RateBurst},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
}

func TestLoad_Errors(t *testing.T) {
	for name, tc := range map[string]struct {
		file string
		env  []string
		want string
	}{
		"unknown key":      {file: "[http]\nlisten = \":1\"\nlistne = \":2\"\n", want: "http.listne"},
		"unknown section":  {file: "[ftp]\nport = 21\n", want: "ftp"},
		"wrong type":       {file: "[http]\nrate_limit = \"fast\"\n", want: "line 2: http.rate_limit must be a number, not a string"},
		"an article":       {file: "[http]\nlisten = 8080\n", want: "line 2: http.listen must be a string in quotes, not an integer"},
		"wrong type list":  {file: "[http]\ntrusted_proxies = \"x\"\n", want: "http.trusted_proxies must be a list of strings"},
		"bare duration":    {file: "[http]\nidle_timeout = 5\n", want: "http.idle_timeout must be a positive duration such as \"30s\""},
		"bad duration":     {file: "[auth]\ntoken_ttl = \"forever\"\n", want: "token_ttl"},
		"bad listen":       {env: []string{"DEPOT_HTTP_LISTEN=8080"}, want: "http.listen"},
		"bad env number":   {env: []string{"DEPOT_DEFENDER_MAX_FAILURES=many"}, want: "DEPOT_DEFENDER_MAX_FAILURES"},
		"bad env bool":     {env: []string{"DEPOT_DEFENDER_ENABLED=perhaps"}, want: "DEPOT_DEFENDER_ENABLED"},
		"bad public url":   {env: []string{"DEPOT_HTTP_PUBLIC_URL=depot.example.com"}, want: "http.public_url"},
		"bad proxy":        {env: []string{"DEPOT_HTTP_TRUSTED_PROXIES=proxy.local"}, want: "http.trusted_proxies"},
		"bad tls mode":     {env: []string{"DEPOT_HTTP_TLS=on"}, want: "http.tls"},
		"cert without key": {env: []string{"DEPOT_HTTP_TLS_CERT=/etc/depot/cert.pem"}, want: "http.tls_key"},
		"self-signed and files": {env: []string{"DEPOT_HTTP_TLS=self-signed", "DEPOT_HTTP_TLS_CERT=/c", "DEPOT_HTTP_TLS_KEY=/k"},
			want: "http.tls_cert"},
		"redirect without tls": {env: []string{"DEPOT_HTTP_REDIRECT_LISTEN=:80"}, want: "http.redirect_listen"},
		"http url with tls":    {env: []string{"DEPOT_HTTP_TLS=self-signed", "DEPOT_HTTP_PUBLIC_URL=http://d.example"}, want: "https://"},
		"short admin key":      {env: []string{"DEPOT_ADMIN_API_KEY=short"}, want: "DEPOT_ADMIN_API_KEY"},
		"bad log level":        {env: []string{"DEPOT_LOG_LEVEL=loud"}, want: "log.level"},
		"zero max failures":    {env: []string{"DEPOT_DEFENDER_MAX_FAILURES=0"}, want: "defender.max_failures"},
		"negative gc floor":    {env: []string{"DEPOT_RUNTIME_GC_FLOOR_MB=-1"}, want: "runtime.gc_floor_mb must not be negative"},
		"negative gc percent":  {file: "[runtime]\ngc_percent = -5\n", want: "runtime.gc_percent must not be negative"},
		"broken toml":          {file: "[http\n", want: "line 1"},
	} {
		t.Run(name, func(t *testing.T) {
			path := ""
			if tc.file != "" {
				path = writeConfig(t, tc.file)
			}
			_, err := config.Load(path, tc.env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.toml"), nil); err == nil {
		t.Fatal("a missing config file is not an error")
	}
}

// The example file documents every key, and loads as it is.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../config.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range config.Keys() {
		section, name, _ := strings.Cut(key, ".")
		if !strings.Contains(string(data), "["+section+"]") || !strings.Contains(string(data), "\n"+name+" = ") {
			t.Errorf("config.example.toml does not document %s", key)
		}
	}
	if _, err := config.Load("../config.example.toml", nil); err != nil {
		t.Fatalf("config.example.toml does not load: %v", err)
	}
}

func TestUnknownEnv(t *testing.T) {
	got := config.UnknownEnv([]string{"DEPOT_HTTP_LISTEN=:1", "DEPOT_HTTP_LISTN=:2", "DEPOT_ADMIN_API_KEY=x", "HOME=/root",
		"DEPOT_RUNTIME_MEMORY_LIMIT_MB=1", "DEPOT_SFTP_MAX_UNAUTHENTICATED_PER_IP=3", "DEPOT_NOPE="})
	if strings.Join(got, ",") != "DEPOT_HTTP_LISTN,DEPOT_NOPE" {
		t.Fatalf("UnknownEnv = %v", got)
	}
}

// Explain shows every key with its effective value and source, secrets
// masked, and its output is a configuration file Load reads back.
func TestExplain(t *testing.T) {
	path := writeConfig(t, "[http]\nlisten = \":9090\"\n[smtp]\npassword = \"hunter22\"\n")
	got, err := config.Explain(path, []string{"DEPOT_SFTP_LISTEN=:2200", "DEPOT_DATABASE_DRIVER=postgres",
		"DEPOT_DATABASE_DSN=postgres://depot:pg-hunter33@db.example.com/depot"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]config.Setting{}
	var text strings.Builder
	section := ""
	for _, s := range got {
		byKey[s.Key] = s
		sec, key, _ := strings.Cut(s.Key, ".")
		if sec != section {
			text.WriteString("[" + sec + "]\n")
			section = sec
		}
		text.WriteString(key + " = " + s.Value + "\n")
	}
	if len(got) != len(config.Keys()) {
		t.Fatalf("%d settings for %d keys", len(got), len(config.Keys()))
	}
	for key, want := range map[string]config.Setting{
		"http.listen":    {Value: `":9090"`, Source: "file"},
		"sftp.listen":    {Value: `":2200"`, Source: "DEPOT_SFTP_LISTEN"},
		"smtp.password":  {Value: `"(set)"`, Source: "file"},
		"database.dsn":   {Value: `"(set)"`, Source: "DEPOT_DATABASE_DSN"},
		"auth.token_ttl": {Value: `"24h0m0s"`, Source: "default"},
	} {
		if s := byKey[key]; s.Value != want.Value || s.Source != want.Source {
			t.Errorf("%s = %+v, want %+v", key, s, want)
		}
	}
	if strings.Contains(text.String(), "hunter22") || strings.Contains(text.String(), "hunter33") {
		t.Fatal("a password is shown")
	}
	if _, err := config.Load(writeConfig(t, text.String()), nil); err != nil {
		t.Fatalf("the printed settings do not load: %v\n%s", err, text.String())
	}
}

// database.driver names one of the two drivers, and the two settings
// agree: postgres needs a dsn, and a dsn under bolt is refused rather
// than ignored.
func TestDatabaseSettings(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"DEPOT_DATABASE_DRIVER=sqlite", `database.driver must be "bolt" or "postgres", not "sqlite"`},
		{"DEPOT_DATABASE_DRIVER=Postgres", `not "Postgres"`},
		{"DEPOT_DATABASE_DRIVER=postgres", "database.dsn must name the PostgreSQL database"},
		{"DEPOT_DATABASE_DSN=postgres://db/depot", `database.dsn is set but database.driver is "bolt"`},
		{"DEPOT_DATABASE_SHARED=true", `database.shared needs database.driver = "postgres"`},
	} {
		_, err := config.Load("", []string{c.env})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.env, err, c.want)
		}
	}
	cfg, err := config.Load("", []string{"DEPOT_DATABASE_DRIVER=postgres", "DEPOT_DATABASE_DSN=postgres://db/depot"})
	if err != nil || cfg.Database.DSN != "postgres://db/depot" {
		t.Fatalf("postgres settings: %v, %+v", err, cfg)
	}
}

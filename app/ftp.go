package app

import (
	"crypto/tls"
	"time"

	"depot/config"
	"depot/ftpd"
	"depot/mft"
	"depot/tlscert"
)

// buildFTP makes the FTPS server when ftp.enabled: its own certificate,
// else the HTTPS one, else the self-signed one of the data directory.
func (a *App) buildFTP(cfg *config.Config) error {
	if !cfg.FTP.Enabled {
		return nil
	}
	var src *tlscert.Source
	var err error
	switch {
	case cfg.FTP.TLSCert != "":
		src, err = tlscert.Load(cfg.FTP.TLSCert, cfg.FTP.TLSKey)
	case a.TLS != nil:
		src = a.TLS
	default:
		src, err = tlscert.SelfSigned(cfg.Data.Dir, selfSignedHosts(cfg.HTTP.PublicURL), time.Now())
	}
	if err != nil {
		return err
	}
	a.FTPCert = src
	lo, hi, err := cfg.FTP.PassiveRange()
	if err != nil {
		return err
	}
	var tc *tls.Config
	if src != nil {
		tc = src.Config()
	}
	a.FTP = &ftpd.Server{
		Addr:                  cfg.FTP.Listen,
		ImplicitAddr:          cfg.FTP.ImplicitListen,
		TLS:                   tc,
		AllowPlain:            cfg.FTP.AllowPlain,
		PassiveLow:            lo,
		PassiveHigh:           hi,
		PublicHost:            cfg.FTP.PublicHost,
		Files:                 a.Files,
		Auth:                  a.Auth,
		Logger:                a.Logger,
		Events:                a.Events,
		IdleTimeout:           cfg.FTP.IdleTimeout.D(),
		LoginGrace:            cfg.FTP.LoginGraceTime.D(),
		MaxConnections:        cfg.FTP.MaxConnections,
		MaxConnectionsPerUser: cfg.FTP.MaxConnectionsPerUser,
		SyncUploads:           cfg.FTP.SyncUploads,
	}
	a.HTTP.Sessions = mft.SessionServices{a.SFTP, a.FTP}
	a.HTTP.FTP = ftpEndpoint{a.FTP, src}
	a.Metrics.Gauge("depot_ftp_sessions", "Live FTPS sessions (logged in).", func() float64 { return float64(len(a.FTP.Sessions())) })
	return nil
}

// ftpEndpoint is the FTPS server and its certificate as the account page
// shows them.
type ftpEndpoint struct {
	*ftpd.Server
	cert *tlscert.Source
}

func (e ftpEndpoint) CertFingerprint() string {
	if e.cert == nil {
		return ""
	}
	return e.cert.Fingerprint()
}

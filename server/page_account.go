package server

import (
	"cmp"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/ssh"

	"depot/link"
	"depot/mft"
	"depot/web"
)

// handleWebAccount shows the user's space, how to connect (SFTP, FTPS,
// WebDAV: those the account may use), keys and password form.
func (s *Server) handleWebAccount(c echo.Context) error {
	u := caller(c)
	data := web.Account{ID: u.ID, Email: u.Email, Username: u.Username, Name: u.Name, Home: u.Home, Percent: -1,
		SFTPAllowed: s.SFTP != nil && u.AllowsProtocol(mft.ProtocolSFTP)}
	ctx, a := c.Request().Context(), actor(c)
	total, free, err := s.Files.Space(ctx, a)
	if err != nil {
		return s.renderError(c, err)
	}
	used, err := s.Files.Usage.Usage(ctx, u.Home)
	if err != nil {
		return s.renderError(c, err)
	}
	data.Used, data.Left = humanSize(used), humanSize(free)
	// Without a quota over the home, Space answers the disk's numbers.
	if dt, df, err := s.Files.DiskSpace(); err == nil && (dt != total || df != free) && total > 0 {
		data.Total, data.Percent = humanSize(total), int(min(100, (total-free)*100/total))
	}
	for i, line := range u.SSHKeys {
		if key, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil {
			data.SSHKeys = append(data.SSHKeys, web.SSHKey{Index: i, Type: key.Type(), Fingerprint: ssh.FingerprintSHA256(key), Comment: comment})
		}
	}
	if data.SFTPAllowed {
		data.SFTPHost = s.SFTPPublicHost
		data.SFTPPort = port(s.SFTP.ListenAddr())
		data.Fingerprints = s.SFTP.HostKeyFingerprints()
	}
	if s.FTP != nil && u.AllowsProtocol(mft.ProtocolFTP) {
		// The host the certificate names: the public URL's.
		data.FTP = &web.FTPDetails{Host: "localhost", Port: port(s.FTP.ListenAddr()), ImplicitPort: port(s.FTP.ImplicitListenAddr()),
			Fingerprint: s.FTP.CertFingerprint()}
		if pu, err := url.Parse(s.PublicURL); err == nil && pu.Hostname() != "" {
			data.FTP.Host = pu.Hostname()
		}
	}
	if u.HasTOTP() {
		data.TwoFactor, data.RecoveryLeft = true, len(u.TOTP.Recovery)
	}
	if s.DAV != nil && u.AllowsProtocol(mft.ProtocolWebDAV) {
		data.DAVURL = s.PublicURL + davPrefix + "/"
	}
	return s.render(c, http.StatusOK, "account", web.Page{Title: "Account", Nav: "account", Data: data})
}

// port is a TCP address's port, "" for none.
func port(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok && ta != nil {
		return strconv.Itoa(ta.Port)
	}
	return ""
}

// handleWebPassword changes the user's password, the old one required; a
// wrong old password counts towards a ban as a failed login does. Every
// session of the user ends, this one too.
func (s *Server) handleWebPassword(c echo.Context) error {
	u := caller(c)
	if err := s.Auth.ChangePassword(s.changeContext(c), u, clientIP(c), formValue(c, "old"), formValue(c, "new")); err != nil {
		return s.done(c, "/web/account", "", err)
	}
	if err := s.Web.EndUser(c.Request().Context(), u.ID); err != nil {
		return err
	}
	s.clearCookie(c, sessionCookie)
	return s.render(c, http.StatusOK, "signin", web.Page{Title: "Sign in", Notice: "Your password was changed. Sign in with the new one.",
		Data: web.Signin{Login: cmp.Or(u.Email, u.Username), Next: "/web/files", Token: s.signinToken(c)}})
}

// handleWebKeyAdd adds a public key for SFTP.
func (s *Server) handleWebKeyAdd(c echo.Context) error {
	if err := s.Auth.AddSSHKey(s.changeContext(c), caller(c), strings.TrimSpace(formValue(c, "key"))); err != nil {
		return s.done(c, "/web/account", "", err)
	}
	return s.done(c, "/web/account", "Key added.", nil)
}

// handleWebKeyRemove removes a public key by its fingerprint.
func (s *Server) handleWebKeyRemove(c echo.Context) error {
	if err := s.Auth.RemoveSSHKey(s.changeContext(c), caller(c), formValue(c, "fingerprint")); err != nil {
		return s.done(c, "/web/account", "", err)
	}
	return s.done(c, "/web/account", "Key removed.", nil)
}

// handleWebShareForm asks how to share a file or folder.
func (s *Server) handleWebShareForm(c echo.Context) error {
	fi, err := s.statQuery(c)
	if err != nil {
		return s.renderError(c, err)
	}
	return s.render(c, http.StatusOK, "share", web.Page{Title: "Share " + fi.Name, Nav: "files",
		Data: web.Share{Path: fi.Path, Folder: fi.Type == mft.TypeFolder, Back: filesURL(parentOf(fi.Path))}})
}

// handleWebShare creates a link and shows it once, ready to copy.
func (s *Server) handleWebShare(c echo.Context) error {
	p := formValue(c, "path")
	in := link.Input{Path: p, Password: formValue(c, "password"), AllowUpload: formValue(c, "upload") == "1"}
	back := "/web/share?path=" + url.QueryEscape(p)
	if v := formValue(c, "max_downloads"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s.done(c, back, "", mft.Errorf(mft.EINVALID, "The download limit must be a whole number."))
		}
		in.MaxDownloads = n
	}
	if v := formValue(c, "expires"); v != "" {
		day, err := time.Parse("2006-01-02", v)
		if err != nil {
			return s.done(c, back, "", mft.Errorf(mft.EINVALID, "The expiry must be a date such as 2027-01-31."))
		}
		end := day.Add(24 * time.Hour) // through the whole day, UTC
		in.ExpiresAt = &end
	}
	l, err := s.Links.Create(s.changeContext(c), actor(c), in)
	if err != nil {
		return s.done(c, back, "", err)
	}
	v := s.newLinkView(l)
	return s.render(c, http.StatusCreated, "share", web.Page{Title: "Shared", Nav: "files", Notice: "Link created.",
		Data: web.Share{Path: l.Path, Folder: l.Folder, Back: filesURL(parentOf(p)), Created: linkRow(v)}})
}

func linkRow(v linkView) *web.LinkRow {
	r := &web.LinkRow{ID: v.ID, URL: v.URL, Path: v.Path, Expires: cmp.Or(v.ExpiresAt, "never"),
		Downloads: strconv.Itoa(v.Downloads), Password: v.HasPassword, Upload: v.AllowUpload}
	if v.MaxDownloads > 0 {
		r.Downloads += " of " + strconv.Itoa(v.MaxDownloads)
	}
	return r
}

// handleWebLinks lists the user's links, newest last.
func (s *Server) handleWebLinks(c echo.Context) error {
	list, _, err := s.Links.List(c.Request().Context(), caller(c), false, mft.Page{Limit: mft.MaxLimit})
	if err != nil {
		return s.renderError(c, err)
	}
	rows := make([]*web.LinkRow, len(list))
	for i, l := range list {
		rows[i] = linkRow(s.newLinkView(l))
	}
	return s.render(c, http.StatusOK, "links", web.Page{Title: "Links", Nav: "links", Data: rows})
}

// handleWebLinkRevoke deletes one of the user's links.
func (s *Server) handleWebLinkRevoke(c echo.Context) error {
	id := formValue(c, "id")
	err := s.Links.Delete(s.changeContext(c), caller(c), id)
	if err == nil {
	}
	return s.done(c, "/web/links", "Link revoked; it no longer works.", err)
}

package ftpd

import (
	"net"
	"strings"

	"depot/files"
	"depot/mft"
)

func (c *session) cmdAuth(arg string) {
	switch {
	case c.s.TLS == nil:
		c.reply(502, "TLS is not configured on this server.")
	case c.tls:
		c.reply(503, "TLS is already on.")
	case !strings.EqualFold(strings.TrimSpace(arg), "TLS") && !strings.EqualFold(strings.TrimSpace(arg), "TLS-C") && !strings.EqualFold(strings.TrimSpace(arg), "SSL"):
		c.reply(504, "Only AUTH TLS is offered.")
	default:
		c.reply(234, "Starting TLS.")
		if err := c.upgrade(); err != nil {
			c.s.Logger.Info("ftp TLS handshake failed", "ip", c.ip.String(), "err", err)
			c.end()
		}
	}
}

func (c *session) cmdPbsz(arg string) {
	if !c.tls {
		c.reply(503, "PBSZ comes after AUTH TLS.")
		return
	}
	c.pbsz = true
	c.reply(200, "PBSZ=0")
}

func (c *session) cmdProt(arg string) {
	switch {
	case !c.tls:
		c.reply(503, "PROT comes after AUTH TLS.")
	case strings.EqualFold(strings.TrimSpace(arg), "P"):
		c.prot = 'P'
		c.reply(200, "Data connections are protected.")
	case strings.EqualFold(strings.TrimSpace(arg), "C"):
		c.prot = 'C'
		c.reply(200, "PROT C accepted, but transfers need PROT P on this server.")
	default:
		c.reply(536, "Only PROT P (and C) are offered.")
	}
}

// plainRefused answers a login attempt sent before TLS when TLS is
// required, and reports whether it did.
func (c *session) plainRefused() bool {
	if c.tls || c.s.AllowPlain {
		return false
	}
	c.reply(530, "This server requires TLS: send AUTH TLS first (FTPS, explicit), or connect to the implicit TLS port.")
	return true
}

func (c *session) cmdUser(arg string) {
	if c.plainRefused() {
		return
	}
	if c.user != nil {
		c.reply(530, "Already logged in; open another connection to log in as someone else.")
		return
	}
	c.login = arg
	c.reply(331, "Password, please.")
}

// cmdPass checks the password with the same login as SFTP's (defender,
// audit, the account's protocols and addresses).
func (c *session) cmdPass(arg string) {
	if c.plainRefused() {
		return
	}
	switch {
	case c.user != nil:
		c.reply(503, "Already logged in.")
		return
	case c.login == "":
		c.reply(503, "Send USER first.")
		return
	}
	u, err := c.s.Auth.Login(c.ctx(), c.login, arg, c.ip, mft.ProtocolFTP)
	if err != nil {
		if mft.ErrorCode(err) == mft.EUNAUTHORIZED {
			c.failures++
		}
		c.reply(530, "Login refused: %s", mft.ErrorMessage(err))
		if c.failures >= maxLoginFailures || mft.ErrorCode(err) == mft.EFORBIDDEN && c.s.Auth.CheckBan(c.ip) != nil {
			c.end()
		}
		return
	}
	if err := c.s.admitUser(u.ID); err != nil {
		c.reply(421, "%s", mft.ErrorMessage(err))
		c.end()
		return
	}
	c.user, c.actor = u, files.Actor{User: u, Protocol: mft.AuditFTP, IP: c.ip.String(), Session: c.s.Files.NewSession()}
	c.in.Store(true)
	c.live.account.Store(u)
	c.grace.Stop()
	c.reply(230, "Logged in; your files are at /.")
}

// localIPv4 is the IPv4 address of a local end, "" for IPv6.
func localIPv4(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return ""
	}
	if v4 := ta.IP.To4(); v4 != nil {
		return v4.String()
	}
	return ""
}

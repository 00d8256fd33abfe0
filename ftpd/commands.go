package ftpd

import (
	"fmt"
	"path"
	"strings"

	"depot/files"
	"depot/mft"
)

// command is one FTP verb: whether it needs a login and an argument.
type command struct {
	run      func(c *session, arg string)
	anon     bool // allowed before login
	needsArg bool
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"USER": {run: (*session).cmdUser, anon: true, needsArg: true},
		"PASS": {run: (*session).cmdPass, anon: true},
		"AUTH": {run: (*session).cmdAuth, anon: true, needsArg: true},
		"PBSZ": {run: (*session).cmdPbsz, anon: true, needsArg: true},
		"PROT": {run: (*session).cmdProt, anon: true, needsArg: true},
		"FEAT": {run: (*session).cmdFeat, anon: true},
		"SYST": {run: func(c *session, _ string) { c.reply(215, "UNIX Type: L8") }, anon: true},
		"NOOP": {run: func(c *session, _ string) { c.reply(200, "OK.") }, anon: true},
		"OPTS": {run: (*session).cmdOpts, anon: true, needsArg: true},
		"HELP": {run: func(c *session, _ string) { c.reply(214, "Depot FTPS: see FEAT for what is offered.") }, anon: true},
		"QUIT": {run: (*session).cmdQuit, anon: true},
		"CLNT": {run: func(c *session, _ string) { c.reply(200, "OK.") }, anon: true},
		"TYPE": {run: (*session).cmdType, needsArg: true},
		"MODE": {run: func(c *session, a string) { c.only(a, "S", "stream mode") }, needsArg: true},
		"STRU": {run: func(c *session, a string) { c.only(a, "F", "file structure") }, needsArg: true},
		"ALLO": {run: func(c *session, _ string) { c.reply(202, "No storage allocation needed.") }},
		"STAT": {run: (*session).cmdStat},
		"PWD":  {run: (*session).cmdPwd},
		"XPWD": {run: (*session).cmdPwd},
		"CWD":  {run: (*session).cmdCwd, needsArg: true},
		"XCWD": {run: (*session).cmdCwd, needsArg: true},
		"CDUP": {run: func(c *session, _ string) { c.cmdCwd("..") }},
		"XCUP": {run: func(c *session, _ string) { c.cmdCwd("..") }},
		"MKD":  {run: (*session).cmdMkd, needsArg: true},
		"XMKD": {run: (*session).cmdMkd, needsArg: true},
		"RMD":  {run: (*session).cmdRmd, needsArg: true},
		"XRMD": {run: (*session).cmdRmd, needsArg: true},
		"DELE": {run: (*session).cmdDele, needsArg: true},
		"RNFR": {run: (*session).cmdRnfr, needsArg: true},
		"RNTO": {run: (*session).cmdRnto, needsArg: true},
		"SIZE": {run: (*session).cmdSize, needsArg: true},
		"MDTM": {run: (*session).cmdMdtm, needsArg: true},
		"PASV": {run: (*session).cmdPasv},
		"EPSV": {run: (*session).cmdEpsv},
		"PORT": {run: (*session).cmdActive},
		"EPRT": {run: (*session).cmdActive},
		"LPRT": {run: (*session).cmdActive},
		"LIST": {run: func(c *session, a string) { c.cmdList(a, listLong) }},
		"NLST": {run: func(c *session, a string) { c.cmdList(a, listNames) }},
		"MLSD": {run: func(c *session, a string) { c.cmdList(a, listFacts) }},
		"MLST": {run: (*session).cmdMlst},
		"REST": {run: (*session).cmdRest, needsArg: true},
		"RETR": {run: (*session).cmdRetr, needsArg: true},
		"STOR": {run: func(c *session, a string) { c.cmdStor(a, false) }, needsArg: true},
		"APPE": {run: func(c *session, a string) { c.cmdStor(a, true) }, needsArg: true},
		"ABOR": {run: func(c *session, _ string) { c.reply(225, "No transfer to abort.") }},
	}
}

// splitCommand splits a control line into its verb (upper case) and
// argument (the rest after one space, kept as sent: names may have
// spaces).
func splitCommand(line string) (string, string) {
	cmd, arg, _ := strings.Cut(line, " ")
	return strings.ToUpper(cmd), arg
}

func (c *session) dispatch(line string) {
	verb, arg := splitCommand(line)
	cmd, ok := commands[verb]
	switch {
	case !ok:
		c.reply(502, "%s is not offered here.", verb)
	case !cmd.anon && c.user == nil:
		c.reply(530, "Log in with USER and PASS first.")
	case cmd.needsArg && strings.TrimSpace(arg) == "":
		c.reply(501, "%s needs an argument.", verb)
	default:
		if verb != "REST" && verb != "RNTO" {
			defer func() { c.rest = 0 }()
		}
		if verb != "RNTO" {
			c.renameFrom = ""
		}
		cmd.run(c, arg)
	}
}

// path resolves a client's argument against the current folder; a name
// the files service refuses is answered here (553), and ok is false.
func (c *session) path(arg string) (string, bool) {
	p := arg
	if !strings.HasPrefix(p, "/") {
		p = path.Join(c.cwd, p)
	}
	clean, err := files.CleanPath(p)
	if err != nil {
		c.reply(553, "%s", mft.ErrorMessage(err))
		return "", false
	}
	return clean, true
}

// stat resolves arg and looks it up; a refusal is answered here, and ok
// is false.
func (c *session) stat(arg string) (string, mft.FileInfo, bool) {
	p, ok := c.path(arg)
	if !ok {
		return "", mft.FileInfo{}, false
	}
	fi, err := c.s.Files.Stat(c.ctx(), c.actor, p)
	if err != nil {
		c.replyErr(err)
		return "", mft.FileInfo{}, false
	}
	return p, fi, true
}

// quote is a path in a 257 answer: in double quotes, with quotes inside
// doubled (RFC 959).
func quote(p string) string { return `"` + strings.ReplaceAll(p, `"`, `""`) + `"` }

func (c *session) only(arg, want, what string) {
	if strings.EqualFold(strings.TrimSpace(arg), want) {
		c.reply(200, "OK.")
		return
	}
	c.reply(504, "Only %s (%s) is offered.", what, want)
}

func (c *session) cmdType(arg string) {
	switch strings.ToUpper(strings.Join(strings.Fields(arg), " ")) {
	case "I", "L 8":
		c.reply(200, "Type set to binary.")
	case "A", "A N":
		// Files are always sent as they are stored: listings are ASCII
		// anyway, and converting line ends would make SIZE and REST lie.
		c.reply(200, "Type set to ASCII; files are still sent byte for byte.")
	default:
		c.reply(504, "Only types I and A are offered.")
	}
}

func (c *session) cmdFeat(string) {
	feats := []string{"AUTH TLS", "PBSZ", "PROT", "EPSV", "PASV", "MDTM", "MLST type*;size*;modify*;", "REST STREAM", "SIZE", "TVFS", "UTF8"}
	if c.s.TLS == nil {
		feats = feats[3:]
	}
	c.reply(211, "Features:\n %s\nEnd", strings.Join(feats, "\n "))
}

func (c *session) cmdOpts(arg string) {
	opt, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(arg)), " ")
	switch opt {
	case "UTF8", "UTF-8":
		c.reply(200, "UTF-8 is always on.")
	case "MLST":
		c.reply(200, "MLST OPTS type;size;modify;")
	default:
		c.reply(501, "Unknown option %s.", opt)
	}
}

func (c *session) cmdQuit(string) {
	c.reply(221, "Goodbye.")
	c.end()
}

func (c *session) cmdStat(arg string) {
	if strings.TrimSpace(arg) != "" {
		c.reply(502, "STAT with a path is not offered; use MLST or LIST.")
		return
	}
	c.reply(211, "Depot FTPS\nLogged in as %s from %s, TLS %v, data protection %c\nEnd of status", c.login, c.ip, c.tls, c.prot)
}

func (c *session) cmdPwd(string) {
	c.reply(257, "%s is the current folder.", quote(c.cwd))
}

func (c *session) cmdCwd(arg string) {
	p, fi, ok := c.stat(arg)
	if !ok {
		return
	}
	if fi.Type != mft.TypeFolder {
		c.reply(550, "%s is not a folder.", p)
		return
	}
	c.cwd = p
	c.reply(250, "Now in %s.", quote(p))
}

func (c *session) cmdMkd(arg string) {
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if _, err := c.s.Files.Mkdir(c.ctx(), c.actor, p); err != nil {
		c.replyErr(err)
		return
	}
	c.reply(257, "%s created.", quote(p))
}

// remove deletes a file (DELE) or an empty folder (RMD), refusing the
// other kind as FTP clients expect.
func (c *session) remove(arg, want string) {
	p, fi, ok := c.stat(arg)
	if !ok {
		return
	}
	if fi.Type != want {
		c.reply(550, "%s is a %s; use %s.", p, fi.Type, map[string]string{mft.TypeFile: "DELE", mft.TypeFolder: "RMD"}[fi.Type])
		return
	}
	if err := c.s.Files.Remove(c.ctx(), c.actor, p, false); err != nil {
		c.replyErr(err)
		return
	}
	c.reply(250, "%s deleted.", p)
}

func (c *session) cmdDele(arg string) { c.remove(arg, mft.TypeFile) }
func (c *session) cmdRmd(arg string)  { c.remove(arg, mft.TypeFolder) }

func (c *session) cmdRnfr(arg string) {
	p, _, ok := c.stat(arg)
	if !ok {
		return
	}
	c.renameFrom = p
	c.reply(350, "Ready for RNTO.")
}

// cmdRnto renames as rename(2) does, replacing a file at the target
// (which needs overwrite permission there).
func (c *session) cmdRnto(arg string) {
	from := c.renameFrom
	c.renameFrom = ""
	if from == "" {
		c.reply(503, "Send RNFR first.")
		return
	}
	p, ok := c.path(arg)
	if !ok {
		return
	}
	if _, err := c.s.Files.Replace(c.ctx(), c.actor, from, p); err != nil {
		c.replyErr(err)
		return
	}
	c.reply(250, "Renamed to %s.", p)
}

func (c *session) cmdSize(arg string) {
	p, fi, ok := c.stat(arg)
	if !ok {
		return
	}
	if fi.Type != mft.TypeFile {
		c.reply(550, "%s is not a file.", p)
		return
	}
	c.reply(213, "%d", fi.Size)
}

func (c *session) cmdMdtm(arg string) {
	_, fi, ok := c.stat(arg)
	if !ok {
		return
	}
	c.reply(213, "%s", fi.ModifiedAt.UTC().Format("20060102150405"))
}

func (c *session) cmdPasv(string) {
	p, err := c.openPassive()
	if err != nil {
		c.reply(425, "Cannot open a data port: %s", err)
		return
	}
	ip := c.s.PublicHost
	if ip == "" {
		ip = localIPv4(c.raw.LocalAddr())
	}
	if ip == "" {
		c.closePassive()
		c.reply(522, "PASV needs IPv4; use EPSV.")
		return
	}
	c.reply(227, "Entering Passive Mode (%s,%d,%d).", strings.ReplaceAll(ip, ".", ","), p.port>>8, p.port&0xff)
}

func (c *session) cmdEpsv(arg string) {
	if strings.EqualFold(strings.TrimSpace(arg), "ALL") {
		c.reply(200, "EPSV ALL: only EPSV from now on.")
		return
	}
	p, err := c.openPassive()
	if err != nil {
		c.reply(425, "Cannot open a data port: %s", err)
		return
	}
	c.reply(229, "Entering Extended Passive Mode (|||%d|).", p.port)
}

// cmdActive refuses PORT, EPRT and LPRT: a server that connects where a
// client says can be made to reach other hosts (FTP bounce).
func (c *session) cmdActive(string) {
	c.reply(502, "Active mode is not offered; use passive mode (PASV or EPSV).")
}

func (c *session) String() string { return fmt.Sprintf("ftp %s %s", c.ip, c.login) }

package ftpd

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"depot/mft"
)

// Listing formats.
const (
	listLong  = iota // LIST: as ls -l, what every client parses
	listNames        // NLST: names only
	listFacts        // MLSD: RFC 3659 facts
)

// listArg drops ls options (LIST -la) from a listing's argument.
func listArg(arg string) string {
	for {
		arg = strings.TrimLeft(arg, " ")
		if !strings.HasPrefix(arg, "-") {
			return arg
		}
		_, rest, _ := strings.Cut(arg, " ")
		arg = rest
	}
}

func (c *session) cmdList(arg string, format int) {
	target := listArg(arg)
	if target == "" {
		target = "."
	}
	p, ok := c.path(target)
	if !ok || !c.dataReady() {
		return
	}
	fi, err := c.s.Files.Stat(c.ctx(), c.actor, p)
	if err != nil {
		c.replyErr(err)
		return
	}
	entries := []mft.FileInfo{fi}
	if fi.Type == mft.TypeFolder {
		if entries, err = c.s.Files.List(c.ctx(), c.actor, p); err != nil {
			c.replyErr(err)
			return
		}
	} else if format == listFacts {
		c.reply(501, "%s is not a folder; MLSD lists folders (use MLST).", p)
		return
	}
	var buf bytes.Buffer
	now := time.Now()
	for _, e := range entries {
		switch format {
		case listLong:
			buf.WriteString(longLine(e, now))
		case listNames:
			buf.WriteString(oneLine(e.Name))
		case listFacts:
			buf.WriteString(facts(e) + " " + oneLine(e.Name))
		}
		buf.WriteString("\r\n")
	}
	err = c.withData("Sending the listing of "+p+".", func(d *dataConn) error {
		if _, err := d.Write(buf.Bytes()); err != nil {
			return err
		}
		return d.Close()
	})
	switch {
	case errors.Is(err, errAborted):
	case err != nil:
		c.reply(426, "Listing not sent: %s", err)
	default:
		c.reply(226, "Listing sent.")
	}
}

func (c *session) cmdMlst(arg string) {
	target := strings.TrimSpace(arg)
	if target == "" {
		target = "."
	}
	p, fi, ok := c.stat(target)
	if !ok {
		return
	}
	c.reply(250, "Listing %s\n %s %s\nEnd", p, facts(fi), p)
}

// longLine is an entry as ls -l prints it. Depot has no owners or modes
// of its own: files show as rw for the owner, folders as rwx.
func longLine(e mft.FileInfo, now time.Time) string {
	mode := "-rw-r--r--"
	if e.Type == mft.TypeFolder {
		mode = "drwxr-xr-x"
	}
	t := e.ModifiedAt.Local()
	stamp := t.Format("Jan _2 15:04")
	if t.Before(now.AddDate(0, -6, 0)) || t.After(now.Add(time.Hour)) {
		stamp = t.Format("Jan _2  2006")
	}
	return fmt.Sprintf("%s 1 depot depot %12d %s %s", mode, e.Size, stamp, oneLine(e.Name))
}

// facts are an entry's RFC 3659 facts.
func facts(e mft.FileInfo) string {
	typ := "file"
	if e.Type == mft.TypeFolder {
		typ = "dir"
	}
	return fmt.Sprintf("type=%s;size=%d;modify=%s;", typ, e.Size, e.ModifiedAt.UTC().Format("20060102150405"))
}

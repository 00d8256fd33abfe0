package ftpd

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"

	"depot/files"
	"depot/mft"
)

// errAborted is a transfer ended by ABOR; withData has answered it.
var errAborted = errors.New("aborted")

// dataReady checks that a transfer may start: a passive port is open,
// and over TLS the data is protected too.
func (c *session) dataReady() bool {
	if c.tls && c.prot != 'P' {
		c.reply(522, "Data connections must be protected too: send PBSZ 0 and PROT P first.")
		return false
	}
	if c.pasv == nil {
		c.reply(425, "Send PASV or EPSV first: Depot opens passive data connections only.")
		return false
	}
	return true
}

// withData announces a transfer (150), takes the data connection and runs
// fn on it while watching the control connection: ABOR closes the data
// connection and is answered 426 then 226 here (errAborted); another
// command waits for the transfer to end. A control connection that closes
// ends the transfer too.
func (c *session) withData(announce string, fn func(d *dataConn) error) error {
	p := c.pasv
	c.pasv = nil
	c.reply(150, "%s", announce)
	c.busy.Store(true)
	defer c.busy.Store(false)
	var cur atomic.Pointer[dataConn]
	var stop atomic.Bool
	done := make(chan error, 1)
	go func() {
		d, err := c.acceptData(p)
		if err != nil {
			done <- err
			return
		}
		cur.Store(d)
		if stop.Load() {
			d.Close()
			done <- errAborted
			return
		}
		err = fn(d)
		d.Close()
		done <- err
	}()
	cancel := func() {
		stop.Store(true)
		p.ln.Close()
		if d := cur.Load(); d != nil {
			d.Close()
		}
	}
	c.ask()
	lines := c.lines
	for {
		select {
		case err := <-done:
			return err
		case l, ok := <-lines:
			c.reading, lines = false, nil
			if !ok || l.err != nil { // the client is gone
				if ok {
					c.held = &l
				}
				cancel()
				<-done
				return errAborted
			}
			if cmd, _ := splitCommand(l.text); cmd == "ABOR" {
				cancel()
				<-done
				c.reply(426, "Transfer aborted; nothing more is sent or stored.")
				c.reply(226, "ABOR done.")
				return errAborted
			}
			c.held = &l
		}
	}
}

// takeRest returns the REST offset for this transfer and clears it.
func (c *session) takeRest() int64 {
	off := c.rest
	c.rest = 0
	return off
}

func (c *session) cmdRest(arg string) {
	var off int64
	if _, err := fmt.Sscan(arg, &off); err != nil || off < 0 || strings.TrimSpace(arg) != fmt.Sprint(off) {
		c.reply(501, "REST needs a byte offset, a whole number from 0.")
		return
	}
	c.rest = off
	c.reply(350, "Restarting at %d; send RETR, STOR or APPE.", off)
}

// onlyReader hides a file's WriteTo, so that copying to a TLS connection
// goes through copyBuffer's large buffer rather than 32 KiB at a time.
type onlyReader struct{ io.Reader }

const copyBuffer = 256 << 10

func (c *session) cmdRetr(arg string) {
	p, ok := c.path(arg)
	if !ok || !c.dataReady() {
		return
	}
	off := c.takeRest()
	f, fi, err := c.s.Files.Open(c.ctx(), c.actor, p)
	if err != nil {
		c.replyErr(err)
		return
	}
	defer f.Close()
	if fi.Type == mft.TypeFolder {
		c.reply(550, "%s is a folder.", p)
		return
	}
	if off > fi.Size {
		c.reply(554, "Restart position %d is past the end of %s (%d bytes).", off, p, fi.Size)
		return
	}
	if off > 0 {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			c.replyErr(err)
			return
		}
	}
	x, done := c.track(p, "download")
	defer done()
	err = c.withData(fmt.Sprintf("Sending %s (%d bytes).", path.Base(p), fi.Size-off), func(d *dataConn) error {
		buf := make([]byte, copyBuffer)
		if _, err := io.CopyBuffer(countingWriter{d, x, c}, onlyReader{f}, buf); err != nil {
			return err
		}
		return d.Close()
	})
	switch {
	case errors.Is(err, errAborted):
	case err != nil:
		c.reply(426, "Transfer failed: %s", err)
	default:
		c.reply(226, "Transfer complete.")
	}
}

// cmdStor receives a file (STOR), or more of one (APPE, or STOR after
// REST at the file's current end). The bytes go to a staging file and
// are published when the data connection ends as a file ends: nothing
// of a refused, aborted or cut upload is stored.
func (c *session) cmdStor(arg string, appending bool) {
	p, ok := c.path(arg)
	if !ok || !c.dataReady() {
		return
	}
	off := c.takeRest()
	resume := appending
	if off > 0 {
		fi, err := c.s.Files.Stat(c.ctx(), c.actor, p)
		if err != nil {
			c.replyErr(err)
			return
		}
		if fi.Size != off {
			c.reply(554, "Restart position %d is not the end of %s (%d bytes): an upload resumes where the file ends (SIZE says where).", off, p, fi.Size)
			return
		}
		resume = true
	}
	// ftp.sync_uploads decides, not data.sync_uploads.
	opts := files.UploadOptions{Overwrite: true, Size: -1, Resume: resume, NoSync: !c.s.SyncUploads, SyncOnRequest: c.s.SyncUploads}
	up, err := c.s.Files.Create(c.ctx(), c.actor, p, opts)
	if err != nil {
		c.replyErr(err)
		return
	}
	if c.s.SyncUploads {
		up.Sync() // fails only on a finished upload
	}
	x, done := c.track(p, "upload")
	defer done()
	err = c.withData("Ready to receive "+path.Base(p)+".", func(d *dataConn) error {
		_, err := up.Append(countingReader{uploadReader{d}, x, c}, -1)
		return err
	})
	if err != nil {
		up.Abort()
		var re *files.ReadError
		switch {
		case errors.Is(err, errAborted):
		case errors.As(err, &re):
			c.reply(426, "Upload of %s cut short (%s); nothing was stored.", p, re.Err)
		case mft.ErrorCode(err) != "":
			c.replyErr(err)
		default:
			c.reply(425, "Upload of %s not received: %s", p, err)
		}
		return
	}
	fi, err := up.Commit()
	if err != nil {
		c.replyErr(err)
		return
	}
	c.reply(226, "Transfer complete: %s stored, %d bytes.", p, fi.Size)
}

package sftpd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"depot/files"
	"depot/mft"
)

// conv is one session's SFTP conversation: a loop that reads a request,
// serves it and writes its answer, in order, as OpenSSH's sftp-server
// does. One goroutine per session, so a small file's open, write, close
// cost no hand-offs between goroutines; the replies carrying a large read
// are written by the batcher's goroutine while the loop reads the next
// piece of the file.
type conv struct {
	h       *handler
	r       *bufio.Reader
	w       *batcher
	in      []byte // the request being served
	out     reply
	handles map[string]*handle
	next    uint64
}

// handle is an open file or folder.
type handle struct {
	path string
	down *download // a file opened for reading
	up   *upload   // a file opened for writing (and reading)
	list []mft.FileInfo
	dir  bool
}

// maxHandles bounds a session's open handles: files are also bounded by
// sftp.max_transfers, folders (each holding its listing) only by this.
const maxHandles = 256

// maxOffset is the largest offset a read or write may name (a file's size
// is an int64).
const maxOffset = 1 << 62

var (
	errOffset    = refusal{code: fxFailure, msg: "Offset out of range."}
	errMalformed = refusal{code: fxBadMessage, msg: "Malformed request."}
)

// readdirBatch is how many names one READDIR answer carries.
const readdirBatch = 100

// largeReply is the size above which a reply is queued for the batcher's
// goroutine rather than written by the loop: a client reading a large
// file keeps several reads outstanding, and the loop reads the next piece
// while the last is encrypted and sent.
const largeReply = 64 << 10

func newConv(rw io.ReadWriter, h *handler) *conv {
	return &conv{h: h, r: bufio.NewReaderSize(rw, 16<<10), w: newBatcher(rw), handles: map[string]*handle{}}
}

// serve runs the conversation until the client leaves or breaks it. Files
// still open are then closed: an upload is dropped, never published.
func (c *conv) serve() error {
	err := c.loop()
	for _, hd := range c.handles {
		if hd.up != nil {
			hd.up.abort()
		} else {
			c.closeHandle(hd)
		}
	}
	c.w.drain()
	return err
}

func (c *conv) loop() error {
	var err error
	if c.in, err = readPacket(c.r, c.in); err != nil {
		return err
	}
	if c.in[0] != fxpInit {
		return fmt.Errorf("%w: type %d before INIT", errBadPacket, c.in[0])
	}
	c.out.begin(fxpVersion, 3)
	for _, e := range extensions {
		c.out.str(e[0]).str(e[1])
	}
	if err := c.send(false); err != nil {
		return err
	}
	for {
		if c.in, err = readPacket(c.r, c.in); err != nil {
			return err
		}
		d := decoder{b: c.in[1:]}
		id := d.u32()
		if d.short {
			return fmt.Errorf("%w: type %d without a request id", errBadPacket, c.in[0])
		}
		if err := c.serveRequest(c.in[0], id, &d); err != nil {
			return err
		}
	}
}

// serveRequest answers one request; it fails only when the reply cannot
// be written.
func (c *conv) serveRequest(typ byte, id uint32, d *decoder) error {
	switch typ {
	case fxpOpen:
		return c.open(id, d)
	case fxpClose:
		name, hd := c.handle(d)
		if d.short || hd == nil {
			return c.status(id, c.refuse(d, hd, ""))
		}
		delete(c.handles, name)
		err := c.closeHandle(hd)
		if len(c.handles) == 0 {
			c.shrink()
		}
		return c.status(id, err)
	case fxpRead:
		return c.read(id, d)
	case fxpWrite:
		_, hd := c.handle(d)
		off, data := d.u64(), d.bytes()
		if d.short || hd == nil || hd.up == nil {
			return c.status(id, c.refuse(d, hd, "is not open for writing"))
		}
		if off > maxOffset {
			return c.status(id, errOffset)
		}
		_, err := hd.up.WriteAt(data, int64(off))
		return c.status(id, err)
	case fxpLstat, fxpStat:
		p := d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		return c.stat(id, p)
	case fxpFstat:
		_, hd := c.handle(d)
		if d.short || hd == nil {
			return c.status(id, c.refuse(d, hd, ""))
		}
		return c.stat(id, hd.path)
	case fxpSetstat, fxpFsetstat:
		var p string
		var hd *handle
		if typ == fxpSetstat {
			p = d.path()
		} else if _, hd = c.handle(d); hd != nil {
			p = hd.path
		}
		a := d.attrs()
		if d.short || typ == fxpFsetstat && hd == nil {
			return c.status(id, c.refuse(d, hd, ""))
		}
		return c.status(id, c.h.setstat(p, a))
	case fxpOpendir:
		return c.opendir(id, d)
	case fxpReaddir:
		return c.readdir(id, d)
	case fxpRemove, fxpRmdir:
		p := d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		return c.status(id, c.h.remove(p, typ == fxpRmdir))
	case fxpMkdir:
		p := d.path()
		d.attrs()
		if d.short {
			return c.status(id, errMalformed)
		}
		return c.status(id, c.h.mkdir(p))
	case fxpRealpath:
		p := d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		c.out.begin(fxpName, id).u32(1).str(p).str(p).u32(0)
		return c.send(false)
	case fxpRename:
		from, to := d.path(), d.path()
		if d.short {
			return c.status(id, errMalformed)
		}
		return c.status(id, c.h.rename(from, to))
	case fxpReadlink:
		return c.status(id, refusal{code: fxNoSuchFile, msg: "No such file."})
	case fxpSymlink:
		return c.status(id, c.h.refuseLink())
	case fxpExtended:
		return c.extended(id, d)
	}
	return c.status(id, refusal{code: fxOpUnsupported, msg: "Unsupported request."})
}

func (c *conv) open(id uint32, d *decoder) error {
	p, pflags := d.path(), d.u32()
	d.attrs()
	if d.short {
		return c.status(id, errMalformed)
	}
	if len(c.handles) >= maxHandles {
		return c.status(id, c.tooMany())
	}
	hd := &handle{path: p}
	var err error
	switch {
	case pflags&(fxfWrite|fxfAppend|fxfCreat|fxfTrunc) != 0:
		hd.up, err = c.h.create(p, pflags)
	case pflags&fxfRead != 0:
		hd.down, err = c.h.openRead(p)
	default:
		err = refusal{code: fxFailure, msg: "Open with read or write flags."}
	}
	if err != nil {
		return c.status(id, err)
	}
	return c.newHandle(id, hd)
}

func (c *conv) opendir(id uint32, d *decoder) error {
	p := d.path()
	if d.short {
		return c.status(id, errMalformed)
	}
	if len(c.handles) >= maxHandles {
		return c.status(id, c.tooMany())
	}
	list, err := c.h.list(p)
	if err != nil {
		return c.status(id, err)
	}
	return c.newHandle(id, &handle{path: p, list: list, dir: true})
}

func (c *conv) newHandle(id uint32, hd *handle) error {
	c.next++
	name := strconv.FormatUint(c.next, 10)
	c.handles[name] = hd
	c.out.begin(fxpHandle, id).str(name)
	return c.send(false)
}

func (c *conv) tooMany() error {
	return refusal{code: fxFailure, msg: fmt.Sprintf("Too many files and folders open in this session (%d); close some first.", maxHandles)}
}

func (c *conv) read(id uint32, d *decoder) error {
	_, hd := c.handle(d)
	off, n := d.u64(), d.u32()
	if d.short || hd == nil || hd.dir {
		return c.status(id, c.refuse(d, hd, "is a folder"))
	}
	if off > maxOffset {
		return c.status(id, errOffset)
	}
	// The data is read into the reply, after its header, which grows to
	// what the file can still give: clients ask for 255 KiB whatever the
	// file's size, and a session of small gets would otherwise make a
	// 256 KiB buffer for each file (shrink lets it go at every close).
	want := min(int(n), maxData)
	if hd.down != nil && hd.down.size-int64(off) < int64(want) {
		want = int(max(hd.down.size-int64(off), 1)) // at the end: a byte, to learn EOF
	}
	c.out.begin(fxpData, id).u32(0)
	start := len(c.out.b)
	c.out.b = slices.Grow(c.out.b, want)
	buf := c.out.b[start : start+want]
	var got int
	var err error
	if hd.down != nil {
		got, err = hd.down.ReadAt(buf, int64(off))
	} else {
		got, err = hd.up.ReadAt(buf, int64(off))
	}
	if err != nil && (err != io.EOF || got == 0) {
		if err != io.EOF {
			err = c.h.sftpError(err)
		}
		return c.status(id, err)
	}
	c.out.b = c.out.b[:start+got]
	binary.BigEndian.PutUint32(c.out.b[start-4:], uint32(got))
	return c.send(got > largeReply)
}

func (c *conv) readdir(id uint32, d *decoder) error {
	_, hd := c.handle(d)
	if d.short || hd == nil || !hd.dir {
		return c.status(id, c.refuse(d, hd, "is not a folder"))
	}
	if len(hd.list) == 0 {
		return c.status(id, io.EOF)
	}
	batch := hd.list[:min(len(hd.list), readdirBatch)]
	hd.list = hd.list[len(batch):]
	c.out.begin(fxpName, id).u32(uint32(len(batch)))
	now := time.Now()
	for _, fi := range batch {
		info := files.OSInfo{Entry: fi}
		c.out.str(fi.Name).str(longName(info, now)).attrs(info.Size(), info.Mode(), info.ModTime())
	}
	return c.send(false)
}

func (c *conv) stat(id uint32, p string) error {
	fi, err := c.h.stat(p)
	if err != nil {
		return c.status(id, err)
	}
	info := files.OSInfo{Entry: fi}
	c.out.begin(fxpAttrs, id).attrs(info.Size(), info.Mode(), info.ModTime())
	return c.send(false)
}

// shrink lets go of the buffers a large transfer grew, once no file is
// open: an idle session keeps a few KiB, not a read's and a write's 256.
func (c *conv) shrink() {
	if cap(c.in) > 64<<10 {
		c.in = nil
	}
	if cap(c.out.b) > 64<<10 {
		c.out.b = nil
	}
}

// closeHandle closes a file (publishing an upload) or forgets a folder.
func (c *conv) closeHandle(hd *handle) error {
	switch {
	case hd.up != nil:
		return hd.up.Close()
	case hd.down != nil:
		return hd.down.Close()
	}
	return nil
}

// handle reads a handle and finds it; nil when it is not open.
func (c *conv) handle(d *decoder) (string, *handle) {
	name := d.bytes()
	return string(name), c.handles[string(name)]
}

// refuse says why a request could not be served: its packet was short,
// its handle is not open, or the handle is of another kind (the handle's
// path, then wrongKind).
func (c *conv) refuse(d *decoder, hd *handle, wrongKind string) error {
	switch {
	case d.short:
		return errMalformed
	case hd == nil:
		return refusal{code: fxFailure, msg: "No such handle: it was closed or never opened."}
	}
	return refusal{code: fxFailure, msg: hd.path + " " + wrongKind + "."}
}

// status answers with a status for err (nil: OK).
func (c *conv) status(id uint32, err error) error {
	code, msg := uint32(fxOK), "OK"
	var r refusal
	switch {
	case err == nil:
	case errors.As(err, &r):
		code, msg = r.code, r.msg
	case err == io.EOF:
		code, msg = fxEOF, "End of file."
	default:
		code, msg = fxFailure, err.Error()
	}
	c.out.begin(fxpStatus, id).u32(code).str(msg).str("en")
	return c.send(false)
}

// send writes the reply built in c.out: large ones through the batcher's
// goroutine, others at once when nothing is queued before them.
func (c *conv) send(large bool) error {
	p := c.out.packet()
	var err error
	if large {
		_, err = c.w.Write(p)
	} else {
		_, err = c.w.WritePacket(p)
	}
	return err
}

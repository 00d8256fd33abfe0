package sftpd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"
)

// SFTP version 3 (draft-ietf-secsh-filexfer-02), the version OpenSSH,
// WinSCP, FileZilla and pkg/sftp speak, with OpenSSH's extensions.
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpRead     = 5
	fxpWrite    = 6
	fxpLstat    = 7
	fxpFstat    = 8
	fxpSetstat  = 9
	fxpFsetstat = 10
	fxpOpendir  = 11
	fxpReaddir  = 12
	fxpRemove   = 13
	fxpMkdir    = 14
	fxpRmdir    = 15
	fxpRealpath = 16
	fxpStat     = 17
	fxpRename   = 18
	fxpReadlink = 19
	fxpSymlink  = 20

	fxpStatus        = 101
	fxpHandle        = 102
	fxpData          = 103
	fxpName          = 104
	fxpAttrs         = 105
	fxpExtended      = 200
	fxpExtendedReply = 201
)

// Status codes.
const (
	fxOK               = 0
	fxEOF              = 1
	fxNoSuchFile       = 2
	fxPermissionDenied = 3
	fxFailure          = 4
	fxBadMessage       = 5
	fxOpUnsupported    = 8
)

// Attribute flags and open flags.
const (
	attrSize        = 0x1
	attrUIDGID      = 0x2
	attrPermissions = 0x4
	attrACModTime   = 0x8
	attrExtended    = 0x80000000

	fxfRead   = 0x1
	fxfWrite  = 0x2
	fxfAppend = 0x4
	fxfCreat  = 0x8
	fxfTrunc  = 0x10
	fxfExcl   = 0x20
)

// OpenSSH's limits (sftp-server.c): a client that sees limits@openssh.com
// sends and asks for 255 KiB per request instead of 32 KiB; a packet is
// at most 256 KiB, which leaves room for the header.
const (
	maxPacket = 256 * 1024
	maxData   = maxPacket - 1024
)

const (
	limitsExtension      = "limits@openssh.com"
	fsyncExtension       = "fsync@openssh.com"
	posixRenameExtension = "posix-rename@openssh.com"
	statvfsExtension     = "statvfs@openssh.com"
	hardlinkExtension    = "hardlink@openssh.com"
)

// extensions are announced in the VERSION packet, with their revisions.
var extensions = [][2]string{
	{posixRenameExtension, "1"}, {statvfsExtension, "2"}, {hardlinkExtension, "1"},
	{limitsExtension, "1"}, {fsyncExtension, "1"},
}

// errBadPacket ends a session whose client sent a packet that cannot be
// one: empty, or longer than maxPacket.
var errBadPacket = errors.New("malformed SFTP packet")

// readPacket reads one packet (without its length) into buf, which it
// grows when the packet needs more room (a session's buffer grows to the
// largest packet its client sent: 256 KiB for an upload, 4 KiB for an
// idle session).
func readPacket(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxPacket {
		return buf, fmt.Errorf("%w: length %d", errBadPacket, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n, max(n, 4<<10))
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}

// decoder reads the fields of a packet; a read past its end sets short,
// and every later read gives zero values.
type decoder struct {
	b     []byte
	short bool
}

func (d *decoder) u32() uint32 {
	if len(d.b) < 4 {
		d.b, d.short = nil, true
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 {
	if len(d.b) < 8 {
		d.b, d.short = nil, true
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

// bytes reads an SSH string without copying it.
func (d *decoder) bytes() []byte {
	n := d.u32()
	if d.short || uint64(n) > uint64(len(d.b)) {
		d.b, d.short = nil, true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

// path reads a client path as an absolute, clean path of the user's
// tree: relative paths start at "/", and ".." stops there.
func (d *decoder) path() string { return path.Clean("/" + d.str()) }

// attrs are the attributes of SETSTAT, FSETSTAT, OPEN and MKDIR. Depot
// applies sizes (of uploads in progress) and times; modes and owners are
// Depot's own.
type attrs struct {
	flags        uint32
	size         uint64
	atime, mtime uint32
}

func (d *decoder) attrs() attrs {
	a := attrs{flags: d.u32()}
	if a.flags&attrSize != 0 {
		a.size = d.u64()
	}
	if a.flags&attrUIDGID != 0 {
		d.u32()
		d.u32()
	}
	if a.flags&attrPermissions != 0 {
		d.u32()
	}
	if a.flags&attrACModTime != 0 {
		a.atime, a.mtime = d.u32(), d.u32()
	}
	if a.flags&attrExtended != 0 {
		for n := d.u32(); n > 0 && !d.short; n-- {
			d.bytes()
			d.bytes()
		}
	}
	return a
}

// reply builds one packet in a buffer the session reuses.
type reply struct{ b []byte }

// begin starts a packet of type typ answering request id.
func (r *reply) begin(typ byte, id uint32) *reply {
	r.b = append(r.b[:0], 0, 0, 0, 0, typ)
	r.b = binary.BigEndian.AppendUint32(r.b, id)
	return r
}

func (r *reply) u32(v uint32) *reply { r.b = binary.BigEndian.AppendUint32(r.b, v); return r }
func (r *reply) u64(v uint64) *reply { r.b = binary.BigEndian.AppendUint64(r.b, v); return r }

func (r *reply) str(s string) *reply {
	r.b = binary.BigEndian.AppendUint32(r.b, uint32(len(s)))
	r.b = append(r.b, s...)
	return r
}

// attrs writes what Depot shows of a file: its size, a mode (Depot owns
// them: 0644 for files, 0755 for folders) and its modification time.
func (r *reply) attrs(size int64, mode fs.FileMode, mtime time.Time) *reply {
	perm := uint32(mode.Perm())
	if mode.IsDir() {
		perm |= 0o040000
	} else {
		perm |= 0o100000
	}
	t := uint32(mtime.Unix())
	return r.u32(attrSize | attrPermissions | attrACModTime).u64(uint64(size)).u32(perm).u32(t).u32(t)
}

// packet fills in the length and returns the whole packet.
func (r *reply) packet() []byte {
	binary.BigEndian.PutUint32(r.b, uint32(len(r.b)-4))
	return r.b
}

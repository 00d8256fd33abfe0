package sftpd

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
)

// OpenSSH's limits (sftp-server.c): a client that sees limits@openssh.com
// sends and asks for 255 KiB per request instead of 32 KiB. pkg/sftp
// accepts packets up to 256 KiB, so these fit with room for the header.
const (
	maxPacket = 256 * 1024
	maxData   = maxPacket - 1024
)

const (
	fxpVersion       = 2
	fxpFsetstat      = 10
	fxpExtended      = 200
	fxpExtendedReply = 201
	attrExtended     = 0x80000000
	limitsExtension  = "limits@openssh.com"
	fsyncExtension   = "fsync@openssh.com"
)

// shim sits between the SSH channel and pkg/sftp's request server, which
// implements neither limits@openssh.com nor fsync@openssh.com: it adds
// both to the server's VERSION packet, answers the client's limits
// requests itself and hands fsync requests over as setstats (see
// fsyncAsSetstat). Every other byte passes through untouched, and its
// replies are written only between the server's packets.
type shim struct {
	rw     io.ReadWriteCloser
	w      *batcher // writes to rw, coalesced
	r      *bufio.Reader
	remain int    // bytes of the current client packet not yet delivered
	held   []byte // a small packet read whole but not ours

	wmu       sync.Mutex // held from the start to the end of each packet written
	out       int        // bytes of the server's current packet still to come
	hdr       []byte     // a packet header split across writes
	versionOK bool
	// unanswered counts the client's packets handed to the server and not
	// yet answered. A reply that leaves none is the one the client waits
	// for before it sends more (one request at a time, as with many small
	// files): it is written at once rather than queued for the batcher.
	unanswered atomic.Int64
	// slots bounds the client's requests in the server at once
	// (maxInFlight): a request takes a slot before the server reads it and
	// its reply gives it back. Past the bound the client's packets wait in
	// the SSH channel, whose window then holds the client back, so a busy
	// session's memory does not grow with the client's queue depth.
	slots chan struct{}
}

// maxInFlight is how many requests of one session the server holds at
// once. OpenSSH's client keeps up to 64 requests of up to 255 KiB (the
// write length Depot announces) outstanding, and pkg/sftp's allocator
// keeps, for the session's life, as many packet buffers as were ever in
// use at once: 16 MiB a busy session when all were read in. Four keep
// large-file throughput where it was (bench/sftp.sh) and bound a busy
// session to about 1.3 MiB of buffers (bench/sessions.sh).
const maxInFlight = 4

// request counts a client packet handed to the server, waiting for a slot.
func (s *shim) request() {
	s.slots <- struct{}{}
	s.unanswered.Add(1)
}

// answered counts a reply and frees its request's slot; it returns the
// requests still unanswered.
func (s *shim) answered() int64 {
	select {
	case <-s.slots:
	default: // a reply to no request (none in a well-formed session)
	}
	return s.unanswered.Add(-1)
}

func newShim(rw io.ReadWriteCloser) *shim {
	return &shim{rw: rw, w: newBatcher(rw), r: bufio.NewReaderSize(rw, 64<<10), slots: make(chan struct{}, maxInFlight)}
}

// Read delivers the client's packets, minus the limits requests, with
// fsync requests rewritten.
func (s *shim) Read(p []byte) (int, error) {
	for s.remain == 0 && len(s.held) == 0 {
		hdr, err := s.r.Peek(5)
		if err != nil {
			return 0, err
		}
		length := int(binary.BigEndian.Uint32(hdr))
		if hdr[4] != fxpExtended || length < 1 || length > 1024 {
			s.remain = 4 + length
			s.request()
			break
		}
		pkt := make([]byte, 4+length)
		if _, err := io.ReadFull(s.r, pkt); err != nil {
			return 0, err
		}
		switch id, name, rest := extended(pkt); name {
		case limitsExtension:
			s.answerLimits(id)
		case fsyncExtension:
			s.held = fsyncAsSetstat(id, rest)
			s.request()
		default:
			s.held = pkt
			s.request()
		}
	}
	if len(s.held) > 0 {
		n := copy(p, s.held)
		s.held = s.held[n:]
		return n, nil
	}
	if len(p) > s.remain {
		p = p[:s.remain]
	}
	n, err := s.r.Read(p)
	s.remain -= n
	return n, err
}

// extended splits an SSH_FXP_EXTENDED packet (length and type included)
// into its request id, extension name and the rest; name is "" when the
// packet is too short to hold them.
func extended(pkt []byte) (id []byte, name string, rest []byte) {
	if len(pkt) < 5+8 {
		return nil, "", nil
	}
	body := pkt[5:]
	nameLen := int(binary.BigEndian.Uint32(body[4:8]))
	if len(body) < 8+nameLen {
		return nil, "", nil
	}
	return body[:4], string(body[8 : 8+nameLen]), body[8+nameLen:]
}

// answerLimits replies to a limits@openssh.com request.
func (s *shim) answerLimits(id []byte) {
	reply := binary.BigEndian.AppendUint32(nil, 1+4+4*8)
	reply = append(reply, fxpExtendedReply)
	reply = append(reply, id...)
	reply = binary.BigEndian.AppendUint64(reply, maxPacket)
	reply = binary.BigEndian.AppendUint64(reply, maxData) // read length
	reply = binary.BigEndian.AppendUint64(reply, maxData) // write length
	// Open handles: 0, no fixed limit. OpenSSH's client caps its requests
	// in flight at this number, so the per-session file limit
	// (max_transfers) is enforced at open instead of announced here.
	reply = binary.BigEndian.AppendUint64(reply, 0)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.w.Write(reply) // an error surfaces on the next read
}

// fsyncAsSetstat turns the rest of an fsync@openssh.com request (the
// handle, as an SSH string) into an SSH_FXP_FSETSTAT of that handle whose
// only attribute is an extended one named fsync@openssh.com. pkg/sftp
// resolves the handle of a setstat to its file, or answers EBADF, and
// replies with a status, as fsync expects; the handler recognizes the
// attribute (fsyncRequest). A malformed request passes the handle bytes as
// they are, and pkg/sftp refuses the packet.
func fsyncAsSetstat(id, handle []byte) []byte {
	pkt := binary.BigEndian.AppendUint32(nil, uint32(1+4+len(handle)+4+4+4+len(fsyncExtension)+4))
	pkt = append(pkt, fxpFsetstat)
	pkt = append(pkt, id...)
	pkt = append(pkt, handle...)
	pkt = binary.BigEndian.AppendUint32(pkt, attrExtended)
	pkt = binary.BigEndian.AppendUint32(pkt, 1)
	pkt = binary.BigEndian.AppendUint32(pkt, uint32(len(fsyncExtension)))
	pkt = append(pkt, fsyncExtension...)
	return binary.BigEndian.AppendUint32(pkt, 0) // no data
}

// Write passes the server's packets on, holding wmu across each packet so
// a reply from answerLimits never lands inside one, and adds the
// extension to the VERSION packet.
func (s *shim) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if s.out == 0 && len(s.hdr) == 0 && s.versionOK && len(p) >= 4 {
			if end := 4 + int(binary.BigEndian.Uint32(p)); len(p) >= end { // a whole packet
				write := s.w.Write
				if s.answered() == 0 {
					write = s.w.WritePacket
				}
				s.wmu.Lock()
				_, err := write(p[:end])
				s.wmu.Unlock()
				if err != nil {
					return written, err
				}
				p, written = p[end:], written+end
				continue
			}
		}
		if s.out == 0 { // a packet starts
			need := 4 - len(s.hdr)
			if len(p) < need {
				s.hdr = append(s.hdr, p...)
				return written + len(p), nil
			}
			s.hdr = append(s.hdr, p[:need]...)
			p, written = p[need:], written+need
			s.out = int(binary.BigEndian.Uint32(s.hdr))
			s.answered()
			s.wmu.Lock()
			if !s.versionOK && len(p) >= s.out && s.out > 0 && p[0] == fxpVersion {
				s.versionOK = true
				n, err := s.writeVersion(p[:s.out])
				s.hdr, p, written, s.out = s.hdr[:0], p[n:], written+n, 0
				s.wmu.Unlock()
				if err != nil {
					return written, err
				}
				continue
			}
			if _, err := s.w.Write(s.hdr); err != nil {
				s.wmu.Unlock()
				return written, err
			}
			s.hdr = s.hdr[:0]
			if s.out == 0 {
				s.wmu.Unlock()
				continue
			}
		}
		chunk := min(len(p), s.out)
		n, err := s.w.Write(p[:chunk])
		p, written, s.out = p[n:], written+n, s.out-n
		if s.out == 0 || err != nil {
			s.wmu.Unlock()
		}
		if err != nil {
			s.out = 0
			return written, err
		}
	}
	return written, nil
}

// writeVersion sends the VERSION packet body with limits@openssh.com and
// fsync@openssh.com added and returns how many bytes of body it consumed.
func (s *shim) writeVersion(body []byte) (int, error) {
	var ext []byte
	for _, name := range []string{limitsExtension, fsyncExtension} {
		ext = binary.BigEndian.AppendUint32(ext, uint32(len(name)))
		ext = append(ext, name...)
		ext = binary.BigEndian.AppendUint32(ext, 1)
		ext = append(ext, '1')
	}
	pkt := binary.BigEndian.AppendUint32(nil, uint32(len(body)+len(ext)))
	pkt = append(pkt, body...)
	pkt = append(pkt, ext...)
	_, err := s.w.Write(pkt)
	return len(body), err
}

// Close sends what is still queued, then closes the channel.
func (s *shim) Close() error {
	s.w.drain()
	return s.rw.Close()
}

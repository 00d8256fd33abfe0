package sftpd

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// stream is a client byte stream for the shim; what the shim writes back
// is kept.
type stream struct {
	io.Reader
	out bytes.Buffer
}

func (s *stream) Write(p []byte) (int, error) { return s.out.Write(p) }
func (s *stream) Close() error                { return nil }

func extendedPacket(id uint32, name string, rest []byte) []byte {
	body := binary.BigEndian.AppendUint32([]byte{fxpExtended}, id)
	body = binary.BigEndian.AppendUint32(body, uint32(len(name)))
	body = append(body, name...)
	body = append(body, rest...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// FuzzShim: any byte stream from a client passes through the shim that
// parses extended packets (limits@openssh.com, fsync@openssh.com) without
// a panic, and an extended packet is split within its bounds.
func FuzzShim(f *testing.F) {
	handle := binary.BigEndian.AppendUint32(nil, 2)
	handle = append(handle, "h1"...)
	f.Add(extendedPacket(1, limitsExtension, nil))
	f.Add(extendedPacket(2, fsyncExtension, handle))
	f.Add(extendedPacket(3, fsyncExtension, nil))
	f.Add(extendedPacket(4, "other@example.com", []byte{1, 2, 3}))
	f.Add([]byte{0, 0, 0, 0, fxpExtended})
	f.Add([]byte{0, 0, 0, 1, fxpExtended})
	f.Add([]byte{0, 0, 0, 9, fxpExtended, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 5, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) >= 5 {
			id, name, rest := extended(in)
			if name != "" && (len(id) != 4 || len(name)+len(rest)+13 > len(in)) {
				t.Fatalf("extended(%x) = %x %q %x", in, id, name, rest)
			}
		}
		sh := newShim(&stream{Reader: bytes.NewReader(in)})
		buf := make([]byte, 4096)
		for range 10000 {
			if _, err := sh.Read(buf); err != nil {
				return
			}
			for len(sh.slots) > 0 { // the server's replies
				sh.answered()
			}
		}
		t.Fatal("the shim kept reading past its input")
	})
}

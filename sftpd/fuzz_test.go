package sftpd

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"
	"time"

	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

// stream is a client byte stream; what the conversation writes back is
// kept.
type stream struct {
	io.Reader
	out bytes.Buffer
}

func (s *stream) Write(p []byte) (int, error) { return s.out.Write(p) }

func pkt(typ byte, id uint32, parts ...[]byte) []byte {
	body := binary.BigEndian.AppendUint32([]byte{typ}, id)
	for _, p := range parts {
		body = append(body, p...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func wireStr(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}
func wireU32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// FuzzConversation: any byte stream a client sends after INIT is served
// by a session over a real files service without a panic, every reply is
// a whole packet answering a request that was sent, and the session ends
// when the stream does.
func FuzzConversation(f *testing.F) {
	handle1 := wireStr("1")
	f.Add(pkt(fxpOpen, 1, wireStr("/a.txt"), wireU32(fxfWrite|fxfCreat|fxfTrunc), wireU32(0)))
	f.Add(bytes.Join([][]byte{
		pkt(fxpOpen, 1, wireStr("a.txt"), wireU32(fxfWrite|fxfCreat), wireU32(0)),
		pkt(fxpWrite, 2, handle1, binary.BigEndian.AppendUint64(nil, 0), wireStr("hello")),
		pkt(fxpExtended, 3, wireStr(fsyncExtension), handle1),
		pkt(fxpFstat, 4, handle1),
		pkt(fxpClose, 5, handle1),
		pkt(fxpOpen, 6, wireStr("a.txt"), wireU32(fxfRead), wireU32(0)),
		pkt(fxpRead, 7, wireStr("2"), binary.BigEndian.AppendUint64(nil, 0), wireU32(1<<20)),
	}, nil))
	f.Add(bytes.Join([][]byte{
		pkt(fxpMkdir, 1, wireStr("d"), wireU32(attrPermissions), wireU32(0o755)),
		pkt(fxpOpendir, 2, wireStr("/")),
		pkt(fxpReaddir, 3, handle1),
		pkt(fxpReaddir, 4, handle1),
		pkt(fxpSetstat, 5, wireStr("d"), wireU32(attrACModTime|attrExtended), wireU32(1), wireU32(2), wireU32(1), wireStr("x"), wireStr("y")),
		pkt(fxpRename, 6, wireStr("d"), wireStr("e")),
		pkt(fxpExtended, 7, wireStr(posixRenameExtension), wireStr("e"), wireStr("f")),
		pkt(fxpExtended, 8, wireStr(statvfsExtension), wireStr("/")),
		pkt(fxpExtended, 9, wireStr(limitsExtension)),
		pkt(fxpRmdir, 10, wireStr("f")),
		pkt(fxpRealpath, 11, wireStr("../..")),
	}, nil))
	f.Add(pkt(fxpExtended, 1, wireStr(fsyncExtension), wireU32(40), []byte("x")))
	f.Add(pkt(fxpWrite, 1, wireStr("9"), binary.BigEndian.AppendUint64(nil, 1<<62), wireStr("x")))
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0, 4, 0, 1, fxpOpen})
	f.Add(pkt(99, 1))

	cfg := coretest.Config(f.TempDir())
	svc := coretest.Start(f, cfg)
	u := coretest.AddUser(f, svc, "fuzz")
	srv := &Server{Files: svc.Files, Logger: slog.New(slog.DiscardHandler), MaxTransfers: 8}
	init := pkt(fxpInit, 3)[:9] // INIT carries a version where a request has its id
	f.Fuzz(func(t *testing.T, in []byte) {
		sess := &session{id: "ses_fuzz", user: u, started: time.Now(), transfers: map[*transfer]struct{}{}}
		fs := svc.Files.NewSession()
		defer fs.Close()
		h := &handler{s: srv, sess: sess, actor: files.Actor{User: u, Protocol: mft.AuditSFTP, IP: "127.0.0.1", Session: fs},
			ctx: context.Background(), stderr: io.Discard, uploads: map[string]*upload{}}
		st := &stream{Reader: io.MultiReader(bytes.NewReader(init), bytes.NewReader(in))}
		newConv(st, h).serve()
		if n := sess.openTransfers(); n != 0 {
			t.Fatalf("%d transfers still open after the session", n)
		}
		sent := map[uint32]bool{}
		for d := (decoder{b: in}); len(d.b) >= 9; {
			n := int(d.u32())
			if n > len(d.b) {
				break
			}
			if n >= 5 {
				sent[binary.BigEndian.Uint32(d.b[1:5])] = true
			}
			d.b = d.b[n:]
		}
		out := st.out.Bytes()
		for first := true; len(out) > 0; first = false {
			if len(out) < 9 || int(binary.BigEndian.Uint32(out))+4 > len(out) {
				t.Fatalf("a reply is cut short: %x", out)
			}
			n := int(binary.BigEndian.Uint32(out))
			if id := binary.BigEndian.Uint32(out[5:9]); !first && !sent[id] {
				t.Fatalf("a reply of type %d answers request %d, which was not sent", out[4], id)
			}
			out = out[4+n:]
		}
	})
}

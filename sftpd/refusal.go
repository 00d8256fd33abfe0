package sftpd

import (
	"errors"

	"depot/mft"
)

// maxTold bounds what one session writes to the client's stderr: the
// channel's window is shared with the SFTP stream, and a client that
// never reads stderr (pkg/sftp) must not see it shrink by more.
const maxTold = 64 << 10

// refusal is a refused request as an SFTP status: the code (SFTP v3 has
// few, and OpenSSH's sftp prints only the code's text: "Permission
// denied") with the files service's message, which other clients
// (WinSCP, FileZilla, pkg/sftp) show.
type refusal struct {
	code uint32 // fxNoSuchFile, fxPermissionDenied, …
	msg  string
}

func (r refusal) Error() string { return r.msg }

// sftpError turns a files error into what the client sees: the closest
// status code with the files service's message (client paths only,
// never storage or host paths). The message also goes to the session's
// stderr, which OpenSSH's ssh prints above sftp's own line, so that its
// users read why too.
func (h *handler) sftpError(err error) error {
	code := uint32(fxFailure)
	switch mft.ErrorCode(err) {
	case "":
		return nil
	case mft.ENOTFOUND:
		code = fxNoSuchFile
	case mft.EFORBIDDEN, mft.EUNAUTHORIZED, mft.EINVALID:
		code = fxPermissionDenied
	case mft.EINTERNAL:
		h.s.Logger.Error("sftp request failed", "session", h.sess.id, "user", h.actor.User.ID, "err", err)
		return errors.New("Internal error.")
	}
	msg := mft.ErrorMessage(err)
	if mft.ErrorCode(err) != mft.ENOTFOUND { // a missing file is routine: ls, stat before put
		h.tell(msg)
	}
	return refusal{msg: msg, code: code}
}

// tell writes a line to the client's stderr, up to maxTold a session.
func (h *handler) tell(msg string) {
	line := "depot: " + msg + "\n"
	h.sess.mu.Lock()
	// The writes in flight of a refused upload fail alike: say it once.
	if line == h.sess.lastTold || h.sess.told+len(line) > maxTold {
		h.sess.mu.Unlock()
		return
	}
	h.sess.told += len(line)
	h.sess.lastTold = line
	h.sess.mu.Unlock()
	h.stderr.Write([]byte(line))
}

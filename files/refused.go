package files

import (
	"context"

	"depot/mft"
)

// refused audits an operation the rules refused (permission, an inactive
// bucket, a size limit, a quota, an extension rule) as its event with
// status denied and the reason, whatever the protocol; it returns err. The
// path is the storage path when the client path resolves, and the message
// names the path as the client sees it.
func (s *Service) refused(ctx context.Context, a Actor, event, clientPath string, err error) error {
	switch mft.ErrorCode(err) {
	case mft.EFORBIDDEN, mft.EQUOTA, mft.ETOOLARGE, mft.EINVALID:
	default:
		return err
	}
	ev := mft.Event{Event: event, Status: mft.StatusDenied, Message: mft.ErrorMessage(err)}
	if v, verr := s.viewOf(ctx, a); verr == nil {
		if t, terr := v.resolve(clientPath); terr == nil {
			ev.Path = t.storage
		}
	}
	s.publish(ev, a)
	return err
}

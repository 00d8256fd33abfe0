package as2

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"depot/mft"
)

// await registers a send waiting for the asynchronous MDN of messageID.
func (s *Service) await(messageID string) chan struct{} {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if s.waiting == nil {
		s.waiting = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	s.waiting[messageID] = ch
	return ch
}

func (s *Service) forget(messageID string) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	delete(s.waiting, messageID)
}

// arrived wakes the send waiting for messageID's receipt, if any.
func (s *Service) arrived(messageID string) {
	s.waitMu.Lock()
	defer s.waitMu.Unlock()
	if ch, ok := s.waiting[messageID]; ok {
		close(ch)
		delete(s.waiting, messageID)
	}
}

// waitMDN waits for m's asynchronous receipt (checked by InboundMDN) at
// most MDNWait, then reads how it went from the store.
func (s *Service) waitMDN(ctx context.Context, m *mft.AS2Message, arrived chan struct{}) error {
	wait := s.MDNWait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-arrived:
	case <-t.C:
		return mft.Errorf(mft.EUNAVAILABLE, "no asynchronous MDN for %s arrived within %s", m.MessageID, wait)
	case <-ctx.Done():
		return ctx.Err()
	}
	got, err := s.Store.FindAS2Message(ctx, mft.AS2Out, m.Partner, m.MessageID)
	if err != nil {
		return err
	}
	*m = *got
	if m.Status != mft.AS2Processed {
		return mft.Errorf(mft.EUNAVAILABLE, "AS2 partner %s: %s", m.To, m.Error)
	}
	return nil
}

// asyncTimeout bounds posting one asynchronous receipt.
const asyncTimeout = time.Minute

// sendAsync posts a receipt to target after the answer to the message
// has gone, in the background; Close waits for those in flight.
func (s *Service) sendAsync(target string, h http.Header, body []byte) {
	s.async.Add(1)
	go func() {
		defer s.async.Done()
		ctx, cancel := context.WithTimeout(context.Background(), asyncTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			s.logger().Warn("as2: asynchronous MDN", "url", target, "err", err)
			return
		}
		req.Header = h
		resp, err := s.client().Do(req)
		if err != nil {
			s.logger().Warn("as2: asynchronous MDN", "url", target, "err", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			s.logger().Warn("as2: asynchronous MDN refused", "url", target, "status", resp.Status)
		}
	}()
}

// Close waits for the asynchronous receipts being posted.
func (s *Service) Close() { s.async.Wait() }

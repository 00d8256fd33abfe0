package as2

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"depot/mft"
)

// Send sends a file to a partner as one AS2 message, shaped as the
// partner asks (compressed, signed, encrypted), and checks the receipt:
// a missing, unsigned (when a signed one was asked), negative or
// mismatched MDN is an error naming the reason (EUNAVAILABLE, so a run
// retries it). The message is recorded either way.
func (s *Service) Send(ctx context.Context, partnerID, name string, r io.Reader, size int64) (*mft.AS2Message, error) {
	p, err := s.Store.FindAS2Partner(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	if p.URL == "" {
		return nil, mft.Errorf(mft.EINVALID, "AS2 partner %s has no url to send to", p.Name)
	}
	if p.MDN == mft.AS2MDNAsync && s.PublicURL == "" {
		return nil, mft.Errorf(mft.EINVALID, "AS2 partner %s wants asynchronous MDNs: set http.public_url, the address partners post them back to", p.Name)
	}
	if size > s.MaxMessage {
		return nil, mft.Errorf(mft.ETOOLARGE, "%s is larger than the AS2 message limit (%d bytes)", name, s.MaxMessage)
	}
	st, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	pc, err := certsOf(p)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, s.MaxMessage+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > s.MaxMessage {
		return nil, mft.Errorf(mft.ETOOLARGE, "%s is larger than the AS2 message limit (%d bytes)", name, s.MaxMessage)
	}
	msg, err := s.build(st, p, pc, name, data)
	if err != nil {
		return nil, err
	}
	m := &mft.AS2Message{Partner: p.ID, Direction: mft.AS2Out, MessageID: msg.header.Get("Message-ID"), From: st.AS2ID,
		To: p.AS2ID, File: name, Size: int64(len(data)), Signed: p.Sign, Encrypted: p.Encrypt, Compressed: p.Compress,
		MIC: msg.mic, MDN: p.MDN, MDNSigned: p.SignedMDN && p.MDN != mft.AS2MDNNone, Status: mft.AS2Pending,
		Headers: keptHeaders(msg.header)}
	if err := s.Store.RecordAS2Message(ctx, m); err != nil {
		return nil, err
	}
	var arrived chan struct{}
	if p.MDN == mft.AS2MDNAsync {
		arrived = s.await(m.MessageID)
		defer s.forget(m.MessageID)
	}
	err = s.post(ctx, p, pc, m, msg)
	if err == nil && arrived != nil {
		err = s.waitMDN(ctx, m, arrived)
	}
	if err != nil {
		if m.Status != mft.AS2Failed {
			m.Status, m.Error = mft.AS2Failed, mft.ErrorMessage(err)
			s.saveMessage(m)
		}
		s.sent(m)
		return m, err
	}
	s.sent(m)
	return m, nil
}

// outbound is a built message: HTTP headers, body, and its MIC.
type outbound struct {
	header http.Header
	body   []byte
	mic    string
}

// build shapes data as p asks: the payload entity, compressed, signed
// (multipart/signed), then encrypted (application/pkcs7-mime).
func (s *Service) build(st *station, p *mft.AS2Partner, pc partnerCerts, name string, data []byte) (*outbound, error) {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" || strings.HasPrefix(ctype, "text/") {
		ctype = "application/octet-stream"
	}
	head := fmt.Sprintf("Content-Type: %s\r\nContent-Transfer-Encoding: binary\r\nContent-Disposition: attachment; filename=%q\r\n\r\n",
		ctype, name)
	e := make([]byte, 0, len(head)+len(data))
	e = append(append(e, head...), data...)
	topType, top := ctype, data
	mic := ""
	if p.Compress {
		der, err := compress(e)
		if err != nil {
			return nil, err
		}
		ctype = "application/pkcs7-mime; smime-type=compressed-data; name=smime.p7z"
		e = append([]byte("Content-Type: "+ctype+"\r\nContent-Transfer-Encoding: binary\r\n\r\n"), der...)
		topType, top = ctype, der
	}
	if p.Sign {
		mic = computeMIC(e, p.MIC)
		whole, body, ct, err := signedEntity(e, st, p.MIC)
		if err != nil {
			return nil, err
		}
		topType, top, e = ct, body, whole
	}
	if p.Encrypt {
		if mic == "" {
			mic = computeMIC(e, p.MIC)
		}
		der, err := encrypt(e, pc.encrypt, p.Encryption)
		if err != nil {
			return nil, err
		}
		topType, top = "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m", der
	}
	if mic == "" {
		mic = computeMIC(data, p.MIC)
	}
	h := http.Header{}
	h.Set("AS2-Version", "1.2")
	h.Set("AS2-From", quoteID(st.AS2ID))
	h.Set("AS2-To", quoteID(p.AS2ID))
	h.Set("Message-ID", newMessageID(s.host()))
	h.Set("Subject", name)
	h.Set("Date", s.now().UTC().Format(time.RFC1123Z))
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Type", topType)
	if p.Encrypt || p.Compress {
		h.Set("Content-Transfer-Encoding", "binary")
	}
	if p.MDN != mft.AS2MDNNone {
		h.Set("Disposition-Notification-To", st.AS2ID)
		if p.SignedMDN {
			h.Set("Disposition-Notification-Options", "signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, "+micHash[p.MIC].name)
		}
	}
	if p.MDN == mft.AS2MDNAsync {
		h.Set("Receipt-Delivery-Option", strings.TrimSuffix(s.PublicURL, "/")+"/as2/mdn")
	}
	return &outbound{header: h, body: top, mic: mic}, nil
}

// maxMDN caps the receipt read back.
const maxMDN = 1 << 20

// post sends msg and, for a synchronous MDN, checks the one answered.
func (s *Service) post(ctx context.Context, p *mft.AS2Partner, pc partnerCerts, m *mft.AS2Message, msg *outbound) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(msg.body))
	if err != nil {
		return mft.Errorf(mft.EINVALID, "AS2 partner %s: %v", p.Name, err)
	}
	req.Header = msg.header.Clone()
	resp, err := s.client().Do(req)
	if err != nil {
		return mft.Errorf(mft.EUNAVAILABLE, "AS2 partner %s did not take the message: %v", p.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMDN))
	if err != nil {
		return mft.Errorf(mft.EUNAVAILABLE, "AS2 partner %s: reading its answer: %v", p.Name, err)
	}
	if resp.StatusCode/100 != 2 {
		return mft.Errorf(mft.EUNAVAILABLE, "AS2 partner %s answered %s: %s", p.Name, resp.Status, firstLine(body))
	}
	if p.MDN != mft.AS2MDNSync {
		if p.MDN == mft.AS2MDNNone {
			m.Status = mft.AS2Processed
			s.saveMessage(m)
		}
		return nil
	}
	return s.checkMDN(p, pc, m, resp.Header.Get("Content-Type"), body)
}

// checkMDN reads a receipt for m and records it; it is an error unless it
// says processed, carries m's MIC, and is signed when one was asked.
func (s *Service) checkMDN(p *mft.AS2Partner, pc partnerCerts, m *mft.AS2Message, contentType string, body []byte) error {
	now := s.now()
	m.MDNAt = &now
	fields, signed, err := readMDN(contentType, body, pc)
	fail := func(format string, args ...any) error {
		m.Status, m.Error = mft.AS2Failed, fmt.Sprintf(format, args...)
		s.saveMessage(m)
		return mft.Errorf(mft.EUNAVAILABLE, "AS2 partner %s: %s", p.Name, m.Error)
	}
	switch {
	case err != nil:
		return fail("its receipt cannot be read: %v", err)
	case m.MDNSigned && !signed:
		return fail("its receipt is not signed, and a signed one was asked")
	}
	m.Disposition = fields.Get("Disposition")
	disp := strings.ToLower(m.Disposition)
	_, status, _ := strings.Cut(disp, ";")
	switch got := normalizeMIC(fields.Get("Received-Content-MIC")); {
	case strings.TrimSpace(status) != "processed":
		return fail("its receipt says %q", strings.TrimSpace(m.Disposition))
	case got != normalizeMIC(m.MIC):
		return fail("its receipt's MIC %q is not the MIC of what was sent (%s)", fields.Get("Received-Content-MIC"), m.MIC)
	}
	m.Status, m.Error = mft.AS2Processed, ""
	s.saveMessage(m)
	return nil
}

func normalizeMIC(v string) string {
	digest, alg, _ := strings.Cut(v, ",")
	return strings.TrimSpace(digest) + "," + micAlgOf(alg)
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	if len(line) > 200 {
		line = line[:200]
	}
	return strings.TrimSpace(line)
}

func (s *Service) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return &http.Client{Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}}
}

func (s *Service) saveMessage(m *mft.AS2Message) {
	if err := s.Store.PutAS2Message(context.WithoutCancel(context.Background()), m); err != nil {
		s.logger().Error("as2: recording a message", "message_id", m.MessageID, "err", err)
	}
}

// sent publishes as2.sent: ok, or error with the reason.
func (s *Service) sent(m *mft.AS2Message) {
	if s.Events == nil {
		return
	}
	ev := mft.Event{Event: mft.EventAS2Sent, Time: s.now().UTC(), Actor: m.Partner, Protocol: mft.AuditAS2,
		Path: m.File, Size: m.Size, Status: mft.StatusOK, Target: m.MessageID}
	if m.Status == mft.AS2Failed {
		ev.Status, ev.Message = mft.StatusError, m.Error
	}
	s.Events.Publish(ev)
}

// InboundMDN receives an asynchronous receipt posted to /as2/mdn for a
// message Depot sent, checks it as a synchronous one and completes the
// send waiting for it.
func (s *Service) InboundMDN(ctx context.Context, req mft.AS2Request) mft.AS2Answer {
	from := unquoteID(req.Header.Get("AS2-From"))
	p, err := s.Store.FindAS2PartnerByAS2ID(ctx, from)
	if err != nil {
		return plain(http.StatusForbidden, "AS2-From is not a partner of this station.")
	}
	pc, err := certsOf(p)
	if err != nil {
		return plain(http.StatusInternalServerError, "The partner's certificate cannot be read.")
	}
	fields, _, err := readMDN(req.Header.Get("Content-Type"), req.Body, pc)
	if err != nil {
		return plain(http.StatusBadRequest, "The receipt cannot be read: "+err.Error()+".")
	}
	m, err := s.Store.FindAS2Message(ctx, mft.AS2Out, p.ID, strings.TrimSpace(fields.Get("Original-Message-ID")))
	if err != nil || m.Status != mft.AS2Pending {
		return plain(http.StatusNotFound, "No message sent to this partner waits for that receipt.")
	}
	_ = s.checkMDN(p, pc, m, req.Header.Get("Content-Type"), req.Body)
	s.arrived(m.MessageID)
	return plain(http.StatusOK, "")
}

// Test sends a small message to the partner and checks its receipt.
func (s *Service) Test(ctx context.Context, partnerID string) (*mft.AS2Message, error) {
	body := "Depot AS2 connection test " + s.now().UTC().Format(time.RFC3339) + "\r\n"
	return s.Send(ctx, partnerID, "depot-as2-test.txt", strings.NewReader(body), int64(len(body)))
}

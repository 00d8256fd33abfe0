package as2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"depot/files"
	"depot/mft"
)

// request is what the headers of an inbound message ask.
type request struct {
	from, to, messageID string
	// wantMDN: Disposition-Notification-To was sent; signMIC is the
	// micalg of the signed receipt asked for ("" for unsigned); async is
	// Receipt-Delivery-Option.
	wantMDN bool
	signMIC string
	micAlgs []string
	async   string
}

func readRequest(h http.Header) request {
	r := request{from: unquoteID(h.Get("AS2-From")), to: unquoteID(h.Get("AS2-To")),
		messageID: strings.TrimSpace(h.Get("Message-ID")), wantMDN: h.Get("Disposition-Notification-To") != "",
		async: strings.TrimSpace(h.Get("Receipt-Delivery-Option"))}
	// signed-receipt-protocol=optional, pkcs7-signature;
	// signed-receipt-micalg=optional, sha-256, sha1
	for _, opt := range strings.Split(h.Get("Disposition-Notification-Options"), ";") {
		name, val, _ := strings.Cut(opt, "=")
		vals := strings.Split(val, ",")
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "signed-receipt-protocol":
			for _, v := range vals[min(1, len(vals)-1):] {
				if strings.EqualFold(v, "pkcs7-signature") {
					r.signMIC = mft.AS2SHA256
				}
			}
		case "signed-receipt-micalg":
			for _, v := range vals[min(1, len(vals)-1):] {
				if a := micAlgOf(v); a != "" {
					r.micAlgs = append(r.micAlgs, a)
				}
			}
		}
	}
	if r.signMIC != "" && len(r.micAlgs) > 0 {
		r.signMIC = r.micAlgs[0]
	}
	return r
}

// Inbound receives one AS2 message posted to the station and returns the
// answer: the synchronous MDN, or 200 with the asynchronous MDN sent
// after it. A payload that opens and verifies is stored through the file
// service in the partner's folder as its user (events, audit as as2,
// quotas, folder rules, automations); anything else is refused with an
// error disposition naming the reason, stores nothing and is audited.
func (s *Service) Inbound(ctx context.Context, req mft.AS2Request) mft.AS2Answer {
	r := readRequest(req.Header)
	if r.from == "" || r.to == "" || r.messageID == "" {
		return plain(http.StatusBadRequest, "An AS2 message needs AS2-From, AS2-To and Message-ID headers.")
	}
	if !mft.ValidAS2ID(r.from) || !mft.ValidAS2ID(r.to) || len(r.messageID) > 998 {
		return plain(http.StatusBadRequest, "AS2-From and AS2-To must be AS2 ids (1 to 128 printable characters) and Message-ID at most 998 characters.")
	}
	st, err := s.open(ctx)
	if err != nil {
		return plain(http.StatusServiceUnavailable, "This server has no AS2 station set up.")
	}
	m := &mft.AS2Message{Direction: mft.AS2In, MessageID: r.messageID, From: r.from, To: r.to, IP: req.IP,
		MDN: mdnMode(r), MDNSigned: r.signMIC != "", Headers: keptHeaders(req.Header), Size: int64(len(req.Body))}
	rc := receipt{station: st.AS2ID, partner: r.from, messageID: r.messageID}
	p, fail := s.receive(ctx, st, r, req, m)
	if fail != nil {
		m.Status, m.Error = mft.AS2Failed, fail.reason
		rc.modifier, rc.text = fail.kind, "The message was not accepted: "+fail.reason
	} else {
		m.Status = mft.AS2Processed
		rc.text = "The message was received and stored."
	}
	rc.mic = m.MIC
	m.Disposition = rc.disposition()
	if p != nil {
		m.Partner = p.ID
	}
	// A message from no partner is audited, not kept: a stranger cannot
	// fill the message list (the audit log's retention bounds the rest).
	if p != nil {
		if err := s.Store.RecordAS2Message(ctx, m); err != nil {
			s.logger().Error("as2: recording a message", "message_id", m.MessageID, "err", err)
		}
	}
	s.audit(m, p)
	if !r.wantMDN {
		return plain(http.StatusOK, "")
	}
	now := s.now()
	m.MDNAt = &now
	signMIC := r.signMIC
	if p == nil && fail != nil {
		signMIC = "" // an unknown sender gets a receipt, not one signed for it
	}
	h, body, err := rc.build(st, signMIC, s.host())
	if err != nil {
		return plain(http.StatusInternalServerError, "The receipt could not be signed.")
	}
	if r.async != "" {
		switch {
		case p != nil && s.asyncAllowed(p, r.async):
			s.sendAsync(r.async, h, body)
			return plain(http.StatusOK, "")
		case p != nil:
			return plain(http.StatusForbidden, "Asynchronous receipts go only to the host of the partner's own AS2 URL; "+r.async+" is not it.")
		}
		// A sender that is no partner gets its receipt here, never posted.
	}
	return mft.AS2Answer{Status: http.StatusOK, Header: h, Body: body}
}

// receive checks the sender, opens the message and stores its payload.
// It returns the partner when the sender is one.
func (s *Service) receive(ctx context.Context, st *station, r request, req mft.AS2Request, m *mft.AS2Message) (*mft.AS2Partner, *refusal) {
	if r.to != st.AS2ID {
		return nil, refuse("error: unknown-trading-partnership", "AS2-To %q is not this station (%s)", r.to, st.AS2ID)
	}
	p, err := s.Store.FindAS2PartnerByAS2ID(ctx, r.from)
	if err != nil || !p.Active {
		return nil, refuse("error: unknown-trading-partnership", "AS2-From %q is not an active partner of this station", r.from)
	}
	pc, err := certsOf(p)
	if err != nil {
		return p, refuse("error: unexpected-processing-error", "the partner's certificate cannot be read")
	}
	if now := s.now(); now.After(pc.sign.NotAfter) {
		return p, refuse("error: authentication-failed", "the partner's certificate expired on %s", pc.sign.NotAfter.UTC().Format(time.DateOnly))
	}
	if _, err := s.Store.FindAS2Message(ctx, mft.AS2In, p.ID, r.messageID); err == nil {
		return p, refuse("warning: duplicate-document", "message %s was received before; it was not stored again", r.messageID)
	}
	o, err := open(topEntity(req.Header.Get("Content-Type"), req.Header.Get("Content-Transfer-Encoding"), req.Header.Get("Content-Disposition"), req.Body), st, pc.sign, s.MaxMessage)
	if err != nil {
		if f, ok := err.(*refusal); ok {
			return p, f
		}
		return p, refuse("error: unexpected-processing-error", "%v", err)
	}
	m.Signed, m.Encrypted, m.Compressed = o.signed, o.encrypted, o.compressed
	mic := r.micAlgs
	if o.signedWith != "" {
		mic = append(mic, o.signedWith)
	}
	m.MIC = computeMIC(o.micInput, append(mic, mft.AS2SHA256)[0])
	switch {
	case p.RequireSigned && !o.signed:
		return p, refuse("error: insufficient-message-security", "the partner's messages must be signed")
	case p.RequireEncrypted && !o.encrypted:
		return p, refuse("error: insufficient-message-security", "the partner's messages must be encrypted")
	}
	name := fileName(o.filename, r.messageID)
	user, err := s.Users.FindUserByID(ctx, p.User)
	if err != nil {
		return p, refuse("error: unexpected-processing-error", "the partner's user %s does not exist", p.User)
	}
	a := files.Actor{User: user, Protocol: mft.AuditAS2, IP: req.IP}
	if _, err := s.Files.Stat(ctx, a, p.Folder); mft.ErrorCode(err) == mft.ENOTFOUND {
		// The partner's folder is made on its first message.
		if _, err := s.Files.Mkdir(ctx, a, p.Folder); err != nil && mft.ErrorCode(err) != mft.ECONFLICT {
			return p, refuse("error: unexpected-processing-error", "the partner's folder %s cannot be made: %s", p.Folder, mft.ErrorMessage(err))
		}
	}
	fi, err := s.Files.Upload(ctx, a, path.Join(p.Folder, name), bytes.NewReader(o.payload),
		files.UploadOptions{Overwrite: true, Size: int64(len(o.payload))})
	if err != nil {
		return p, refuse("error: unexpected-processing-error", "the file was not stored: %s", mft.ErrorMessage(err))
	}
	m.File, m.Size = fi.Path, fi.Size
	return p, nil
}

// computeMIC is the Received-Content-MIC of b: "base64, sha-256".
func computeMIC(b []byte, alg string) string {
	h := micHash[alg].hash.New()
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + ", " + micHash[alg].name
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName is the payload's file name as sent when it is a plain name,
// else one made of the Message-ID.
func fileName(sent, messageID string) string {
	if sent = strings.TrimSpace(sent); sent != "" && files.PlainName(sent) && !strings.HasPrefix(sent, ".") {
		return sent
	}
	id := strings.Trim(unsafeName.ReplaceAllString(strings.Trim(messageID, "<>"), "_"), "._")
	if len(id) > 100 {
		sum := sha256.Sum256([]byte(messageID))
		id = id[:60] + "-" + hex.EncodeToString(sum[:8])
	}
	return "as2-" + id + ".dat"
}

func mdnMode(r request) string {
	switch {
	case !r.wantMDN:
		return mft.AS2MDNNone
	case r.async != "":
		return mft.AS2MDNAsync
	}
	return mft.AS2MDNSync
}

// keptHeaders are the AS2 headers a message is recorded with.
func keptHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"AS2-Version", "AS2-From", "AS2-To", "Message-ID", "Subject", "Date", "Content-Type",
		"Disposition-Notification-To", "Disposition-Notification-Options", "Receipt-Delivery-Option", "User-Agent"} {
		if v := h.Get(k); v != "" {
			if len(v) > 512 {
				v = v[:512]
			}
			out[k] = v
		}
	}
	return out
}

// asyncAllowed reports whether an asynchronous receipt may go to target:
// only to the host of the partner's own AS2 URL, so that a message
// cannot make Depot post to any address it names.
func (s *Service) asyncAllowed(p *mft.AS2Partner, target string) bool {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || p.URL == "" {
		return false
	}
	pu, err := url.Parse(p.URL)
	return err == nil && strings.EqualFold(pu.Host, u.Host)
}

func (s *Service) host() string {
	if u, err := url.Parse(s.PublicURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "depot"
}

func plain(status int, msg string) mft.AS2Answer {
	h := http.Header{}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if msg != "" {
		msg += "\n"
	}
	return mft.AS2Answer{Status: status, Header: h, Body: []byte(msg)}
}

// audit publishes as2.received: ok with the stored file, or denied with
// the reason.
func (s *Service) audit(m *mft.AS2Message, p *mft.AS2Partner) {
	if s.Events == nil {
		return
	}
	ev := mft.Event{Event: mft.EventAS2Received, Time: s.now().UTC(), Actor: m.From, Protocol: mft.AuditAS2, IP: m.IP,
		Path: m.File, Size: m.Size, Status: mft.StatusOK, Target: m.MessageID}
	if p != nil {
		ev.Actor = p.ID
	}
	if m.Error != "" {
		ev.Status, ev.Message = mft.StatusDenied, m.Error
	}
	s.Events.Publish(ev)
}

package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
)

// AS2 is the AS2 station (the as2 package) as the HTTP API reaches it.
type AS2 interface {
	Station(ctx context.Context) (*mft.AS2Station, error)
	PutStation(ctx context.Context, ch mft.AS2StationChange) (*mft.AS2Station, error)
	Describe(pemCert string) (*mft.CertificateInfo, error)
	NewPartner() *mft.AS2Partner
	Partner(ctx context.Context, id string) (*mft.AS2Partner, error)
	Partners(ctx context.Context, page mft.Page) ([]*mft.AS2Partner, bool, error)
	CreatePartner(ctx context.Context, p *mft.AS2Partner) error
	UpdatePartner(ctx context.Context, old, next *mft.AS2Partner) error
	DeletePartner(ctx context.Context, id string) error
	Messages(ctx context.Context, f mft.AS2Filter) ([]*mft.AS2Message, bool, error)
	Inbound(ctx context.Context, req mft.AS2Request) mft.AS2Answer
	InboundMDN(ctx context.Context, req mft.AS2Request) mft.AS2Answer
}

// AS2Settings are the AS2 routes' own limits.
type AS2Settings struct {
	// MaxMessage caps a message's body (413 beyond it).
	MaxMessage int64
	// Limiter is each sender address's allowance on /as2 and /as2/mdn,
	// instead of the API's.
	Limiter *auth.RateLimiter
}

// needAS2 answers 404 on the AS2 routes of a server built without it.
func (s *Server) needAS2(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.AS2 == nil {
			return mft.Errorf(mft.ENOTFOUND, "AS2 is not part of this server.")
		}
		return next(c)
	}
}

// handleAS2 receives a message for the station: the answer is the
// synchronous MDN or an empty 200 (its MDN posted later), as the as2
// package says.
func (s *Server) handleAS2(c echo.Context) error {
	return s.as2Request(c, s.AS2.Inbound)
}

// handleAS2MDN receives an asynchronous MDN for a message Depot sent.
func (s *Server) handleAS2MDN(c echo.Context) error {
	return s.as2Request(c, s.AS2.InboundMDN)
}

func (s *Server) as2Request(c echo.Context, handle func(context.Context, mft.AS2Request) mft.AS2Answer) error {
	r := c.Request()
	tooLargeErr := func() error {
		closeAfter(c)
		if s.Events != nil {
			s.Events.Publish(mft.Event{Event: mft.EventAS2Received, Time: s.Now().UTC(), Actor: clip(r.Header.Get("AS2-From"), 128),
				Protocol: mft.AuditAS2, IP: clientIP(c).String(), Status: mft.StatusDenied, Target: clip(r.Header.Get("Message-ID"), 998),
				Message: "the message is larger than as2.max_message_mb; it was not read"})
		}
		return mft.Errorf(mft.ETOOLARGE, "An AS2 message may be at most %d bytes (as2.max_message_mb).", s.AS2Settings.MaxMessage)
	}
	if r.ContentLength > s.AS2Settings.MaxMessage {
		return tooLargeErr()
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead) // read in place, not grown by doubling
	}
	// The body as uploads read theirs: cut off when it trickles
	// (http.min_upload_rate), then capped.
	r.Body = io.NopCloser(s.minRate(c))
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Response(), r.Body, s.AS2Settings.MaxMessage))
	body := buf.Bytes()
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return tooLargeErr()
	} else if err != nil {
		closeAfter(c)
		return mft.Errorf(mft.EMALFORMED, "The message's body could not be read in full.")
	}
	ans := handle(r.Context(), mft.AS2Request{Header: r.Header, Body: body, IP: clientIP(c).String()})
	for k, v := range ans.Header {
		c.Response().Header()[k] = v
	}
	return c.Blob(ans.Status, ans.Header.Get("Content-Type"), ans.Body)
}

// clip cuts a stranger's header to n bytes for the audit log.
func clip(v string, n int) string {
	if len(v) > n {
		return v[:n]
	}
	return v
}

// as2StationView shows the station: its key as "(set)", its certificate
// described.
type as2StationView struct {
	mft.AS2Station
	CertificateInfo *mft.CertificateInfo `json:"certificate_info,omitempty"`
}

func (s *Server) newAS2StationView(st *mft.AS2Station) as2StationView {
	v := *st
	v.PrivateKey = mft.Hidden(st.PrivateKey)
	info, _ := s.AS2.Describe(st.Certificate)
	return as2StationView{AS2Station: v, CertificateInfo: info}
}

// as2StationRequest is the body of PUT /admin/as2/station.
type as2StationRequest struct {
	AS2ID       *string `json:"as2_id"`
	Certificate *string `json:"certificate" depot:"text"`
	PrivateKey  *string `json:"private_key" depot:"text"`
	Generate    *bool   `json:"generate"`
	Days        *int    `json:"days"`
}

func (s *Server) handleAS2StationView(c echo.Context) error {
	st, err := s.AS2.Station(c.Request().Context())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "station", s.newAS2StationView(st))
}

func (s *Server) handleAS2StationUpdate(c echo.Context) error {
	var req as2StationRequest
	if err := s.decodeCreate(c, "station", &req, as2StationView{}); err != nil {
		return err
	}
	ch := mft.AS2StationChange{AS2ID: req.AS2ID, Certificate: req.Certificate, PrivateKey: req.PrivateKey}
	if req.Generate != nil {
		ch.Generate = *req.Generate
	}
	if req.Days != nil {
		ch.Days = *req.Days
	}
	st, err := s.AS2.PutStation(s.changeContext(c), ch)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "station", s.newAS2StationView(st))
}

// as2PartnerRequest is the body of POST, PUT and PATCH
// /admin/as2/partners: absent fields are nil.
type as2PartnerRequest struct {
	Name                  *string `json:"name"`
	AS2ID                 *string `json:"as2_id"`
	Certificate           *string `json:"certificate" depot:"text"`
	EncryptionCertificate *string `json:"encryption_certificate" depot:"text"`
	User                  *string `json:"user"`
	Folder                *string `json:"folder" depot:"path"`
	RequireSigned         *bool   `json:"require_signed"`
	RequireEncrypted      *bool   `json:"require_encrypted"`
	URL                   *string `json:"url" depot:"path"`
	Sign                  *bool   `json:"sign"`
	Encrypt               *bool   `json:"encrypt"`
	Compress              *bool   `json:"compress"`
	Encryption            *string `json:"encryption"`
	MIC                   *string `json:"mic"`
	MDN                   *string `json:"mdn"`
	SignedMDN             *bool   `json:"signed_mdn"`
	Active                *bool   `json:"active"`
}

func (r *as2PartnerRequest) apply(p *mft.AS2Partner) {
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&p.Name, r.Name}, {&p.AS2ID, r.AS2ID}, {&p.Certificate, r.Certificate}, {&p.EncryptionCertificate, r.EncryptionCertificate},
		{&p.User, r.User}, {&p.Folder, r.Folder}, {&p.URL, r.URL}, {&p.Encryption, r.Encryption}, {&p.MIC, r.MIC}, {&p.MDN, r.MDN}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	for _, f := range []struct {
		dst *bool
		v   *bool
	}{{&p.RequireSigned, r.RequireSigned}, {&p.RequireEncrypted, r.RequireEncrypted}, {&p.Sign, r.Sign}, {&p.Encrypt, r.Encrypt},
		{&p.Compress, r.Compress}, {&p.SignedMDN, r.SignedMDN}, {&p.Active, r.Active}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
}

// as2PartnerView shows a partner with its certificates described.
type as2PartnerView struct {
	mft.AS2Partner
	CertificateInfo           *mft.CertificateInfo `json:"certificate_info,omitempty"`
	EncryptionCertificateInfo *mft.CertificateInfo `json:"encryption_certificate_info,omitempty"`
}

func (s *Server) newAS2PartnerView(p *mft.AS2Partner) as2PartnerView {
	v := as2PartnerView{AS2Partner: *p}
	v.CertificateInfo, _ = s.AS2.Describe(p.Certificate)
	if p.EncryptionCertificate != "" {
		v.EncryptionCertificateInfo, _ = s.AS2.Describe(p.EncryptionCertificate)
	}
	return v
}

func (s *Server) handleAS2PartnerList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.AS2.Partners(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "partner", viewsOf(list, s.newAS2PartnerView), p, more, last)
}

func (s *Server) handleAS2PartnerCreate(c echo.Context) error {
	var req as2PartnerRequest
	if err := s.decodeCreate(c, "partner", &req, as2PartnerView{}); err != nil {
		return err
	}
	p := s.AS2.NewPartner()
	req.apply(p)
	if err := s.AS2.CreatePartner(s.changeContext(c), p); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "partner", s.newAS2PartnerView(p))
}

func (s *Server) handleAS2PartnerView(c echo.Context) error {
	p, err := s.AS2.Partner(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "partner", s.newAS2PartnerView(p))
}

func (s *Server) handleAS2PartnerUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	old, err := s.AS2.Partner(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req as2PartnerRequest
	if err := s.decodeUpdate(c, "partner", &req, s.newAS2PartnerView(old)); err != nil {
		return err
	}
	next := *old
	req.apply(&next)
	if err := s.AS2.UpdatePartner(s.changeContext(c), old, &next); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "partner", s.newAS2PartnerView(&next))
}

func (s *Server) handleAS2PartnerDelete(c echo.Context) error {
	if err := s.AS2.DeletePartner(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// handleAS2Messages lists the messages received and sent, oldest first;
// ?partner= and ?direction=in|out narrow it.
func (s *Server) handleAS2Messages(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	f := mft.AS2Filter{Page: p, Partner: c.QueryParam("partner"), Direction: c.QueryParam("direction")}
	if f.Direction != "" && f.Direction != mft.AS2In && f.Direction != mft.AS2Out {
		return mft.Errorf(mft.EINVALID, "direction must be in or out")
	}
	list, more, err := s.AS2.Messages(c.Request().Context(), f)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "message", list, p, more, last)
}

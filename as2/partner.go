package as2

import (
	"context"
	"crypto/x509"
	"time"

	"depot/files"
	"depot/mft"
)

// NewPartner returns a partner with Depot's defaults: signed and
// encrypted both ways (AES-256-CBC, SHA-256), a signed synchronous MDN.
func (s *Service) NewPartner() *mft.AS2Partner {
	return &mft.AS2Partner{RequireSigned: true, RequireEncrypted: true, Sign: true, Encrypt: true,
		Encryption: mft.AS2AES256CBC, MIC: mft.AS2SHA256, MDN: mft.AS2MDNSync, SignedMDN: true, Active: true}
}

// check validates p, its certificates and its user.
func (s *Service) check(ctx context.Context, p *mft.AS2Partner) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := parseCert(p.Certificate); err != nil {
		return mft.Errorf(mft.EINVALID, "certificate: %s", mft.ErrorMessage(err))
	}
	if p.EncryptionCertificate != "" {
		if _, err := parseCert(p.EncryptionCertificate); err != nil {
			return mft.Errorf(mft.EINVALID, "encryption_certificate: %s", mft.ErrorMessage(err))
		}
	}
	if p.Folder != "/" {
		if _, err := files.CleanPath(p.Folder); err != nil {
			return err
		}
	}
	if _, err := s.Users.FindUserByID(ctx, p.User); mft.ErrorCode(err) == mft.ENOTFOUND {
		return mft.Errorf(mft.EINVALID, "user %s does not exist", p.User)
	} else if err != nil {
		return err
	}
	return nil
}

// CreatePartner validates and stores p.
func (s *Service) CreatePartner(ctx context.Context, p *mft.AS2Partner) error {
	if err := s.check(ctx, p); err != nil {
		return err
	}
	if err := s.Store.CreateAS2Partner(ctx, p); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventAS2PartnerCreated, p.ID)
	return nil
}

// UpdatePartner stores next in place of old.
func (s *Service) UpdatePartner(ctx context.Context, old, next *mft.AS2Partner) error {
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	if err := s.check(ctx, next); err != nil {
		return err
	}
	next.UpdatedAt = time.Now().UTC()
	if err := s.Store.PutAS2Partner(ctx, next); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventAS2PartnerUpdated, next.ID)
	return nil
}

// DeletePartner removes a partner; its messages stay listed.
func (s *Service) DeletePartner(ctx context.Context, id string) error {
	if err := s.Store.DeleteAS2Partner(ctx, id); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventAS2PartnerDeleted, id)
	return nil
}

// partnerCerts are a partner's certificates, parsed.
type partnerCerts struct {
	sign, encrypt *x509.Certificate
}

func certsOf(p *mft.AS2Partner) (partnerCerts, error) {
	sign, err := parseCert(p.Certificate)
	if err != nil {
		return partnerCerts{}, err
	}
	pc := partnerCerts{sign: sign, encrypt: sign}
	if p.EncryptionCertificate != "" {
		if pc.encrypt, err = parseCert(p.EncryptionCertificate); err != nil {
			return partnerCerts{}, err
		}
	}
	return pc, nil
}

// ExpiryWarning is how long before a certificate expires CheckExpiry
// warns about it.
const ExpiryWarning = 30 * 24 * time.Hour

// CheckExpiry publishes as2.certificate.expiring for the station's and
// every partner's certificate that expires within ExpiryWarning (or has
// expired), naming it and the date: once a day for each (the sweep runs
// it more often). It returns how many it warned about.
func (s *Service) CheckExpiry(ctx context.Context) (int, error) {
	now := s.now()
	day := now.UTC().Format(time.DateOnly)
	n := 0
	warn := func(target, what, pemCert string) {
		c, err := parseCert(pemCert)
		if err != nil || c.NotAfter.Sub(now) > ExpiryWarning || s.Events == nil {
			return
		}
		key := target + "\x00" + string(c.Raw)
		s.waitMu.Lock()
		if s.warned == nil {
			s.warned = map[string]string{}
		}
		again := s.warned[key] == day
		s.warned[key] = day
		s.waitMu.Unlock()
		if again {
			return
		}
		n++
		s.Events.Publish(mft.Event{Event: mft.EventAS2CertificateExpires, Time: now.UTC(), Protocol: mft.AuditSystem,
			Status: mft.StatusError, Target: target,
			Message: what + " expires on " + c.NotAfter.UTC().Format(time.DateOnly) + "; exchange a new one with the partner before then."})
	}
	if st, err := s.Store.FindAS2Station(ctx); err == nil {
		warn("station", "The AS2 station's certificate", st.Certificate)
	}
	for after := ""; ; {
		list, more, err := s.Store.FindAS2Partners(ctx, mft.Page{After: after, Limit: mft.MaxLimit})
		if err != nil {
			return n, err
		}
		for _, p := range list {
			warn(p.ID, "The certificate of AS2 partner "+p.Name, p.Certificate)
			if p.EncryptionCertificate != "" {
				warn(p.ID, "The encryption certificate of AS2 partner "+p.Name, p.EncryptionCertificate)
			}
			after = p.ID
		}
		if !more {
			return n, nil
		}
	}
}

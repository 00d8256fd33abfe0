// Package connection keeps the storage connections (partners' servers and
// object stores): their secrets sealed at rest, and Open, which unseals
// them only to connect. It knows no protocol of Depot's own.
package connection

import (
	"context"
	"time"

	"depot/auth"
	"depot/mft"
	"depot/remote"
)

// Service manages connections.
type Service struct {
	Store  mft.ConnectionStore
	Sealer *auth.Sealer
	// Events receives connection.created, .updated and .deleted; nil
	// drops them.
	Events mft.EventSink
	// AS2 sends the test message of an as2 connection.
	AS2 AS2Tester
}

// AS2Tester sends a small message to an AS2 partner and checks its MDN.
type AS2Tester interface {
	Test(ctx context.Context, partnerID string) (*mft.AS2Message, error)
}

// Create seals c's secrets, validates it and stores it.
func (s *Service) Create(ctx context.Context, c *mft.Connection) error {
	if err := checkClear(c); err != nil {
		return err
	}
	s.seal(c, nil)
	if err := c.Validate(); err != nil { // a sealed secret is as present as a clear one
		return err
	}
	if err := s.Store.CreateConnection(ctx, c); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventConnectionCreated, c.ID)
	return nil
}

// Update stores next in place of old: a secret sent as mft.SecretMarker
// (what a read shows) keeps old's.
func (s *Service) Update(ctx context.Context, old, next *mft.Connection) error {
	next.ID, next.CreatedAt = old.ID, old.CreatedAt
	if err := checkClear(next); err != nil {
		return err
	}
	s.seal(next, old)
	if err := next.Validate(); err != nil {
		return err
	}
	next.UpdatedAt = time.Now().UTC()
	if err := s.Store.PutConnection(ctx, next); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventConnectionUpdated, next.ID)
	return nil
}

// Delete removes connection id, unless a mount uses it (ECONFLICT).
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.Store.DeleteConnection(ctx, id); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventConnectionDeleted, id)
	return nil
}

// checkClear checks the secrets sent in clear, which Validate sees sealed.
func checkClear(c *mft.Connection) error {
	if v := c.CredentialsJSON; v != "" && v != mft.SecretMarker && !auth.IsSealed(v) {
		return mft.CheckServiceAccountKey(v)
	}
	return nil
}

// seal seals c's secrets; a marker keeps old's sealed value.
func (s *Service) seal(c, old *mft.Connection) {
	var prev mft.Connection
	if old != nil {
		prev = *old
	}
	c.Password = s.Sealer.KeepOrSeal(c.Password, prev.Password)
	c.PrivateKey = s.Sealer.KeepOrSeal(c.PrivateKey, prev.PrivateKey)
	c.SecretKey = s.Sealer.KeepOrSeal(c.SecretKey, prev.SecretKey)
	c.AccountKey = s.Sealer.KeepOrSeal(c.AccountKey, prev.AccountKey)
	c.SASToken = s.Sealer.KeepOrSeal(c.SASToken, prev.SASToken)
	c.ConnectionString = s.Sealer.KeepOrSeal(c.ConnectionString, prev.ConnectionString)
	c.CredentialsJSON = s.Sealer.KeepOrSeal(c.CredentialsJSON, prev.CredentialsJSON)
}

// Open connects to the connection id with its secrets unsealed; the
// caller closes the store. Returns the connection as stored.
func (s *Service) Open(ctx context.Context, id string) (remote.Store, *mft.Connection, error) {
	c, err := s.Store.FindConnection(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	st, _, err := s.dial(ctx, c)
	return st, c, err
}

func (s *Service) dial(ctx context.Context, c *mft.Connection) (remote.Store, remote.Info, error) {
	plain := *c
	for _, v := range []*string{&plain.Password, &plain.PrivateKey, &plain.SecretKey, &plain.AccountKey, &plain.SASToken, &plain.ConnectionString, &plain.CredentialsJSON} {
		if *v != "" && s.Sealer != nil && auth.IsSealed(*v) {
			open, err := s.Sealer.Open(*v)
			if err != nil {
				return nil, remote.Info{}, mft.Errorf(mft.EINTERNAL, "a secret of %s cannot be unsealed with this secret.key", c.ID)
			}
			*v = open
		}
	}
	return remote.Dial(ctx, &plain)
}

// TestResult is what testing a connection found.
type TestResult struct {
	OK        bool           `json:"ok"`
	LatencyMS int64          `json:"latency_ms"`
	Identity  string         `json:"identity,omitempty"`
	Path      string         `json:"path"`
	Entries   []remote.Entry `json:"entries"`
}

// maxTestEntries is how many entries of the base path a test shows.
const maxTestEntries = 20

// Test connects, lists the base path and says what it found; a remote
// that refuses is EINVALID with the remote's own words.
func (s *Service) Test(ctx context.Context, c *mft.Connection) (*TestResult, error) {
	if c.Type == mft.ConnAS2 {
		return s.testAS2(ctx, c)
	}
	st, info, err := s.dial(ctx, c)
	if err != nil {
		return nil, refused(err)
	}
	defer st.Close()
	list, err := st.List(ctx, "")
	if err != nil {
		return nil, refused(remote.Failed(c, "listing the base path", err))
	}
	if len(list) > maxTestEntries {
		list = list[:maxTestEntries]
	}
	if list == nil {
		list = []remote.Entry{}
	}
	where := c.BasePath
	switch c.Type {
	case mft.ConnS3:
		where = c.Bucket + "/" + c.Prefix
	case mft.ConnAzure:
		where = c.Container + "/" + c.Prefix
	case mft.ConnGCS:
		where = c.Bucket + "/" + c.Prefix
	}
	return &TestResult{OK: true, LatencyMS: info.Latency.Milliseconds(), Identity: info.Identity, Path: where, Entries: list}, nil
}

// refused is a remote's refusal as the test's answer: the connection's
// settings do not work (422), in the remote's words.
func refused(err error) error {
	if mft.ErrorCode(err) == mft.EUNAVAILABLE {
		return mft.Errorf(mft.EINVALID, "%s", mft.ErrorMessage(err))
	}
	return err
}

// testAS2 sends the partner a small message: the test passes when its
// MDN verifies and says processed.
func (s *Service) testAS2(ctx context.Context, c *mft.Connection) (*TestResult, error) {
	if s.AS2 == nil {
		return nil, mft.Errorf(mft.EUNAVAILABLE, "AS2 is not available")
	}
	start := time.Now()
	m, err := s.AS2.Test(ctx, c.AS2Partner)
	if err != nil {
		return nil, refused(err)
	}
	return &TestResult{OK: true, LatencyMS: time.Since(start).Milliseconds(), Identity: m.To,
		Path: m.MessageID, Entries: []remote.Entry{}}, nil
}

package filedrop

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"mime"
	"net/netip"
	"path"
	"slices"
	"strings"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Open starts a submission to f from ip and returns it with its upload
// key, shown this once. The caller has checked f's password.
func (s *Service) Open(ctx context.Context, f *mft.Filedrop, ip string) (*mft.Submission, string, error) {
	key := auth.NewKey()
	sub := &mft.Submission{KeyHash: auth.HashKey(key), Filedrop: f.Name, IP: ip, ExpiresAt: s.now().Add(SubmissionTTL),
		Holding: addressFolder(f.Name, ip) + "/" + strings.ToLower(rand.Text()[:16])}
	if err := s.Submissions.CreateSubmission(ctx, sub); err != nil {
		return nil, "", err
	}
	return sub, key, nil
}

// Submission resolves the upload key of filedrop name. Returns ENOTFOUND
// for an unknown filedrop, EUNAUTHORIZED for a key never handed out (the
// caller counts it as a failed login) and EEXPIRED for an expired or
// delivered submission.
func (s *Service) Submission(ctx context.Context, name, key string) (*mft.Filedrop, *mft.Submission, error) {
	f, err := s.Filedrops.FindFiledrop(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	sub, err := s.Submissions.FindSubmissionByKey(ctx, f.Name, auth.HashKey(key))
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		return nil, nil, mft.Errorf(mft.EUNAUTHORIZED, "%s", mft.ErrorMessage(err))
	}
	return f, sub, err
}

// holding is where a submission's uploads wait for delivery.
func holding(sub *mft.Submission) string {
	if sub.Holding != "" {
		return sub.Holding
	}
	return HoldingRoot + sub.Filedrop + "/" + sub.ID
}

// addressFolder is the folder of the uploads from one sender address on
// a filedrop, for the per-address bound: an IPv4 address, or the /64 of
// an IPv6 one (a single host often has a whole /64).
func addressFolder(filedrop, ip string) string {
	key := "unknown"
	if a, err := netip.ParseAddr(ip); err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			a = p.Addr()
		}
		key = strings.NewReplacer(":", "-", ".", "-").Replace(a.String())
	}
	return HoldingRoot + filedrop + "/from-" + key
}

// holdingQuotas bound what senders hold on f before delivering: all of
// them, and those of one address, in multiples of its max_filesize.
func (s *Service) holdingQuotas(f *mft.Filedrop, sub *mft.Submission) []files.Quota {
	if sub.Holding == "" || s.HoldingFiles <= 0 {
		return nil
	}
	size := f.MaxFilesize << 20
	return []files.Quota{{Path: HoldingRoot + f.Name, Bytes: int64(s.HoldingFiles) * size},
		{Path: addressFolder(f.Name, sub.IP), Bytes: int64(s.HoldingFilesPerAddress) * size}}
}

// needValidation refuses uploads and deliveries of a filedrop with
// require_validation until the sender confirmed their address.
func needValidation(f *mft.Filedrop, sub *mft.Submission) error {
	if f.RequireValidation && sub.Validated == "" {
		return mft.Errorf(mft.EFORBIDDEN, "Confirm your email address first: POST /filedrop/%s/validation {\"email\"}, then the code you receive.", f.Name)
	}
	return nil
}

// Upload stores file name (whole, or one piece) in the submission's
// holding area, limited to the filedrop's file types and size; the
// complete file is recorded and returned as an attachment, and done is
// false for a piece that did not complete it. Returns EFORBIDDEN before
// validation, EINVALID for a refused name and the errors of files.Receive.
func (s *Service) Upload(ctx context.Context, f *mft.Filedrop, sub *mft.Submission, name string, body io.Reader, opts files.UploadOptions, piece *files.Piece, from files.Actor) (mft.Attachment, files.Chunk, bool, error) {
	if err := needValidation(f, sub); err != nil {
		return mft.Attachment{}, files.Chunk{}, false, err
	}
	if err := f.CheckFilename(name); err != nil {
		return mft.Attachment{}, files.Chunk{}, false, err
	}
	a := files.Confined("filedrop-"+f.Name, holding(sub), f.MaxFilesize, from)
	a.Quotas = s.holdingQuotas(f, sub)
	opts.Overwrite = true // sending a file again replaces it
	fi, prog, done, err := s.Files.Receive(ctx, a, "/"+name, body, opts, piece)
	if err != nil || !done {
		return mft.Attachment{}, prog, done, err
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	att, err := s.Submissions.AddAttachment(ctx, sub.ID, mft.Attachment{Filename: name, Size: fi.Size,
		Checksum: fi.SHA256, ContentType: ctype, Path: holding(sub) + "/" + name})
	return att, prog, err == nil, err
}

// Delivery is what a sender sends with their files.
type Delivery struct {
	From, Subject, Message string
	// Attachments are the ids of files uploaded with the submission's key.
	Attachments []string
}

// Deliver moves the listed attachments into the owner's home under
// filedrops/<name>/<time>_<sender>/, records the message for the owner
// and cc, publishes filedrop.received and emails the notice. The space
// for all files is checked first (quotas of the home and its folders), so
// that a delivery that does not fit moves none. Returns EFORBIDDEN before
// validation, EINVALID for a bad field and EQUOTA.
func (s *Service) Deliver(ctx context.Context, f *mft.Filedrop, sub *mft.Submission, d Delivery, from files.Actor) (*mft.Message, error) {
	if err := needValidation(f, sub); err != nil {
		return nil, err
	}
	d.From = strings.TrimSpace(d.From)
	if f.RequireValidation && !strings.EqualFold(d.From, sub.Validated) {
		return nil, mft.Errorf(mft.EINVALID, "from must be the address you confirmed (%s).", sub.Validated)
	}
	switch {
	case d.From == "" || len(d.From) > 254 || !strings.Contains(d.From, "@") || strings.ContainsAny(d.From, " <>\"/\\"):
		return nil, mft.Errorf(mft.EINVALID, "from must be your email address.")
	case len(d.Subject) > 500 || len(d.Message) > 20000:
		return nil, mft.Errorf(mft.EINVALID, "subject (500) or message (20000 characters) is too long.")
	case len(d.Attachments) == 0:
		return nil, mft.Errorf(mft.EINVALID, "attachments must list the ids of the uploaded files.")
	}
	var atts []mft.Attachment
	for _, id := range d.Attachments {
		i := slices.IndexFunc(sub.Attachments, func(a mft.Attachment) bool { return a.ID == id })
		if i < 0 {
			return nil, mft.Errorf(mft.EINVALID, "attachments: %q was not uploaded with this key.", id)
		}
		atts = append(atts, sub.Attachments[i])
	}
	owner, err := s.Users.FindUserByID(ctx, f.Owner)
	if err != nil {
		return nil, mft.Errorf(mft.EINVALID, "This filedrop's owner no longer exists; tell its administrator.")
	}
	recipients := []string{owner.ID}
	for _, e := range f.CCs() {
		if u, err := s.Users.FindUserByEmail(ctx, e); err == nil {
			recipients = append(recipients, u.ID)
		}
	}
	now := s.now().UTC()
	ownerActor := files.Actor{User: owner, Protocol: from.Protocol, IP: from.IP}
	var total int64
	for _, a := range atts {
		total += a.Size
	}
	if _, free, err := s.Files.Space(ctx, ownerActor); err == nil && total > free {
		return nil, mft.Errorf(mft.EQUOTA, "These files (%d bytes) do not fit in the recipient's space (%d bytes left); nothing was delivered.", total, free)
	}
	folder := fmt.Sprintf("/filedrops/%s/%s_%s", f.Name, now.Format("20060102-150405"), mft.Slug(d.From))
	for i := 2; ; i++ { // the same sender twice in one second
		if _, err := s.Files.Stat(ctx, ownerActor, folder); mft.ErrorCode(err) == mft.ENOTFOUND {
			break
		}
		folder = fmt.Sprintf("/filedrops/%s/%s_%s-%d", f.Name, now.Format("20060102-150405"), mft.Slug(d.From), i)
	}
	m := &mft.Message{Filedrop: f.Name, Sender: d.From, Subject: d.Subject, Message: d.Message,
		Recipients: recipients, Authorization: f.Authorization, IP: from.IP,
		ExpiresAt: now.AddDate(0, 0, f.ExpiresAfter)}
	for _, a := range atts {
		stored, err := s.Files.Deliver(ctx, a.Path, ownerActor, folder+"/"+a.Filename, a.Checksum)
		if err != nil {
			return nil, err
		}
		a.Path, m.Folder = stored, path.Dir(stored)
		m.Files = append(m.Files, a)
	}
	if err := s.Submissions.Deliver(ctx, sub.ID, m); err != nil {
		return nil, err
	}
	mft.Publish(s.Events, mft.Event{Event: mft.EventFiledropReceived, Time: now, Actor: owner.ID, Protocol: from.Protocol,
		IP: from.IP, Path: m.Folder, Message: fmt.Sprintf("%d file(s) from %s through filedrop %s", len(m.Files), m.Sender, f.Name)})
	s.notify(f, owner, m)
	return m, nil
}

// ErrWrongCode is the answer to a wrong validation code; the caller
// counts it as a failed login.
var ErrWrongCode = mft.Errorf(mft.EINVALID, "The code is not right.")

// Validation limits: codes sent and wrong codes per submission.
const (
	maxCodeSends = 5
	maxCodeTries = 5
)

// checkEmail returns a sender's address cleaned, or EINVALID.
func (s *Service) checkEmail(f *mft.Filedrop, email string) (string, error) {
	if !f.RequireValidation || s.Mailer == nil {
		return "", mft.Errorf(mft.EINVALID, "This filedrop does not validate email addresses.")
	}
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" || len(email) > 254 || !strings.Contains(email, "@") || strings.ContainsAny(email, " <>\"/\\\r\n") {
		return "", mft.Errorf(mft.EINVALID, "email must be your email address.")
	}
	return email, nil
}

// SendCode emails a six-digit code to the sender's address and returns
// the address as kept. Returns EINVALID, ERATELIMIT after maxCodeSends
// codes and EUNAVAILABLE when the mail relay refuses.
func (s *Service) SendCode(ctx context.Context, f *mft.Filedrop, sub *mft.Submission, email string) (string, error) {
	email, err := s.checkEmail(f, email)
	if err != nil {
		return "", err
	}
	code := fmt.Sprintf("%06d", randomInt(1_000_000))
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *mft.Submission) error {
		if sub.CodeSends >= maxCodeSends {
			return mft.Errorf(mft.ERATELIMIT, "Too many codes sent; open the filedrop again later.")
		}
		sub.CodeSends++
		sub.CodeEmail, sub.CodeHash, sub.CodeTries = email, auth.HashKey(code), 0
		return nil
	})
	if err != nil {
		return "", err
	}
	body := fmt.Sprintf("Your code for the filedrop %q is %s.\n\nIf you did not ask for it, ignore this email.\n", f.Title, code)
	if err := s.Mailer.Send(ctx, []string{email}, "Your code for "+f.Title, body); err != nil {
		s.logger().Warn("validation code not sent", "filedrop", f.Name, "err", err)
		return "", mft.Errorf(mft.EUNAVAILABLE, "The code could not be sent; try again in a minute.")
	}
	return email, nil
}

// ConfirmCode confirms the sender's address with the code sent to it and
// returns the address. Returns EINVALID for a wrong code (counted) and
// EFORBIDDEN after maxCodeTries wrong ones.
func (s *Service) ConfirmCode(ctx context.Context, f *mft.Filedrop, sub *mft.Submission, email, code string) (string, error) {
	email, err := s.checkEmail(f, email)
	if err != nil {
		return "", err
	}
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *mft.Submission) error {
		switch {
		case sub.CodeHash == "" || sub.CodeEmail != email:
			return mft.Errorf(mft.EINVALID, "Ask for a code for %s first.", email)
		case sub.CodeTries >= maxCodeTries:
			return mft.Errorf(mft.EFORBIDDEN, "Too many wrong codes; ask for a new one.")
		case !auth.KeyMatches(strings.TrimSpace(code), sub.CodeHash):
			sub.CodeTries++
			return mft.Keep(ErrWrongCode)
		}
		sub.Validated, sub.CodeHash = email, ""
		return nil
	})
	return email, err
}

// randomInt returns a uniform random number in [0, n).
func randomInt(n int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return v.Int64()
}

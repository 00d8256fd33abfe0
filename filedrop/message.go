package filedrop

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"depot/files"
	"depot/mft"
)

// notify emails the owner and cc of a delivery, in the background: the
// sender does not wait for the mail relay, and a failure is only logged.
func (s *Service) notify(f *mft.Filedrop, owner *mft.User, m *mft.Message) {
	if s.Mailer == nil {
		return
	}
	var to []string
	if owner.Email != "" {
		to = append(to, owner.Email)
	}
	to = append(to, f.CCs()...)
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent you %d file(s) through the filedrop %q.\n\n", m.Sender, len(m.Files), f.Title)
	if m.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	}
	if m.Message != "" {
		fmt.Fprintf(&b, "Message:\n%s\n", m.Message)
	}
	b.WriteString("\nFiles:\n")
	for _, a := range m.Files {
		fmt.Fprintf(&b, "  %s (%d bytes, sha256 %s)\n", a.Filename, a.Size, a.Checksum)
	}
	fmt.Fprintf(&b, "\nThey are in your folder %s until %s.\nMessage: %s/api/messages/%s\n",
		m.Folder, m.ExpiresAt.UTC().Format(time.RFC3339), s.PublicURL, m.ID)
	subject := fmt.Sprintf("Files from %s via %s", m.Sender, f.Title)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Mailer.Send(ctx, to, subject, b.String()); err != nil {
			s.logger().Warn("filedrop notice not sent", "message", m.ID, "err", err)
		}
	}()
}

// Messages returns one page of the messages u receives, newest first.
func (s *Service) Messages(ctx context.Context, u *mft.User, p mft.Page) ([]*mft.Message, bool, error) {
	return s.Submissions.FindMessagesFor(ctx, u.ID, p)
}

// Message returns message id if u may read it (a recipient, any local
// user under authorization 2, or an administrator); ENOTFOUND otherwise.
func (s *Service) Message(ctx context.Context, u *mft.User, id string) (*mft.Message, error) {
	m, err := s.Submissions.FindMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Role != mft.RoleAdmin && !m.MayDownload(u.ID) {
		return nil, mft.Errorf(mft.ENOTFOUND, "Message not found.")
	}
	return m, nil
}

// OpenFile opens delivered file id of message m and returns its name.
// Returns ENOTFOUND.
func (s *Service) OpenFile(m *mft.Message, id string) (files.File, fs.FileInfo, string, error) {
	for _, a := range m.Files {
		if a.ID == id {
			f, fi, err := s.Files.OpenStorage(a.Path)
			return f, fi, a.Filename, err
		}
	}
	return nil, nil, "", mft.Errorf(mft.ENOTFOUND, "This message has no file %q.", id)
}

// Sweep removes submissions whose key expired without a delivery (and
// their uploads) and deliveries past their expires_at (their folder in
// the owner's home and the message). It returns how many it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	n := 0
	subs, err := s.Submissions.FindStaleSubmissions(ctx, now)
	if err != nil {
		return 0, err
	}
	for _, sub := range subs {
		if err := s.Files.RemoveStorage(ctx, holding(sub)); err != nil {
			return n, err
		}
		if sub.Holding != "" {
			s.Files.RemoveEmptyFolder(path.Dir(sub.Holding))
		}
		if err := s.Submissions.DeleteSubmission(ctx, sub.ID); err != nil {
			return n, err
		}
		n++
	}
	msgs, err := s.Submissions.FindExpiredMessages(ctx, now)
	if err != nil {
		return n, err
	}
	for _, m := range msgs {
		if err := s.Files.RemoveStorage(ctx, m.Folder); err != nil {
			return n, err
		}
		if err := s.Submissions.DeleteMessage(ctx, m.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

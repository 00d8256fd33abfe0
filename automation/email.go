package automation

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"path"
	"strings"
	"time"

	"depot/files"
	"depot/link"
	"depot/mail"
	"depot/mft"
)

// Mailer sends email with attachments (the mail package's Sender).
type Mailer interface {
	SendMessage(ctx context.Context, m mail.Message) error
}

// linkDays is how long the link an email gives instead of a large
// attachment works.
const linkDays = 7

var errNoMailer = errors.New("email cannot be sent: no [smtp] host is set")

// email is the email action: subject and body from templates, the file
// attached (up to attach_max_mb) or, larger, a shared link to it.
func (x *step) email(ctx context.Context, act mft.Action, file string) error {
	if x.e.Mailer == nil {
		return errNoMailer
	}
	m := mail.Message{To: act.Recipients, Cc: act.Cc, Subject: x.template(act.Subject, file, false), Body: x.template(act.Body, file, false)}
	if act.Attach && file != "" {
		fi, err := x.e.Files.Stat(ctx, x.actor, file)
		if err != nil {
			return err
		}
		limit := act.AttachMaxMB
		if limit == 0 {
			limit = mft.DefaultAttachMaxMB
		}
		if fi.Size <= limit<<20 {
			src, _, err := x.e.Files.Open(ctx, x.actor, file)
			if err != nil {
				return err
			}
			defer src.Close()
			ct := mime.TypeByExtension(path.Ext(file))
			m.Attachments = []mail.Attachment{{Name: path.Base(file), ContentType: ct, Content: src}}
		} else {
			m.Body += "\n\n" + x.largeFile(ctx, act, file, fi.Size, limit)
		}
	}
	x.rec.Remote = strings.Join(append(append([]string(nil), act.Recipients...), act.Cc...), ", ")
	if err := x.e.Mailer.SendMessage(ctx, m); err != nil {
		return fmt.Errorf("the email was not sent: %v", err)
	}
	return nil
}

// largeFile is what an email says of a file too large to attach: a link
// made as link_as (or the event's user), working through that user's
// permissions, or the file's path when no link can be made.
func (x *step) largeFile(ctx context.Context, act mft.Action, file string, size, limit int64) string {
	note := fmt.Sprintf("%s (%d bytes) is larger than %d MiB, so it is not attached", path.Base(file), size, limit)
	owner := act.LinkAs
	if owner == "" {
		owner = x.user
	}
	if owner == "" || x.e.Links == nil || x.e.PublicURL == "" {
		return note + "; it is at " + file + "."
	}
	u, err := x.e.Users.FindUserByID(ctx, owner)
	if err != nil {
		return note + "; it is at " + file + "."
	}
	client := file
	if u.Home != "/" {
		if rest, ok := strings.CutPrefix(file, strings.TrimSuffix(u.Home, "/")+"/"); ok {
			client = "/" + rest
		}
	}
	expires := x.e.Now().Add(linkDays * 24 * time.Hour)
	l, err := x.e.Links.Create(ctx, files.Actor{User: u, Protocol: mft.AuditAutomation}, link.Input{Path: client, ExpiresAt: &expires})
	if err != nil {
		return note + "; it is at " + file + "."
	}
	return fmt.Sprintf("%s. Download it within %d days: %s/s/%s", note, linkDays, strings.TrimSuffix(x.e.PublicURL, "/"), l.ID)
}

// notify emails an automation's notify list of a run that is over.
func (e *Engine) notify(a *mft.Automation, r *mft.Run) {
	if a == nil || a.Notify == nil || e.Mailer == nil {
		return
	}
	to, how := a.Notify.OnFailure, "failed"
	if r.Status == mft.RunSucceeded {
		to, how = a.Notify.OnSuccess, "succeeded"
	}
	if len(to) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Automation %q (%s) %s.\n\nRun: %s\nTrigger: %s\nAttempts: %d\n", a.Name, a.ID, how, r.ID, r.Trigger, r.Attempt)
	if len(r.Files) > 0 {
		fmt.Fprintf(&b, "File: %s\n", r.Files[0])
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", r.Error)
	}
	for i, s := range r.Steps {
		fmt.Fprintf(&b, "\nStep %d, %s: %s → %s (%d ms)", i+1, s.Action, s.Input, s.Output, s.DurationMS)
		if s.Error != "" {
			fmt.Fprintf(&b, ": %s", s.Error)
		}
	}
	m := mail.Message{To: to, Subject: fmt.Sprintf("Depot: automation %s %s", a.Name, how), Body: b.String()}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.Mailer.SendMessage(ctx, m); err != nil {
			e.Logger.Warn("automation notice not sent", "automation", a.ID, "run", r.ID, "err", err)
		}
	}()
}

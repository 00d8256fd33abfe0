package automation

import (
	"context"
	"fmt"
	"path"
	"strings"

	"depot/files"
	"depot/mft"
	"depot/remote"
)

// DryRun is what an automation would do, found without doing it.
type DryRun struct {
	// File is the storage path it would run on ("" for none).
	File string `json:"file,omitempty"`
	// Conditions: each with its verdict; Runs says whether all pass.
	Conditions []ConditionVerdict `json:"conditions"`
	Runs       bool               `json:"runs"`
	Actions    []PlannedAction    `json:"actions"`
	// Picks are the files a schedule's source would pick now (not yet
	// processed in their current version, meeting the conditions).
	Picks []string `json:"picks,omitempty"`
}

// ConditionVerdict is one condition and whether the file meets it.
type ConditionVerdict struct {
	mft.Condition
	Holds bool `json:"holds"`
	// Passes: Holds, or not Holds for a negated condition.
	Passes bool `json:"passes"`
}

// PlannedAction is one action as it would run.
type PlannedAction struct {
	Type   string `json:"type"`
	Input  string `json:"input,omitempty"`
	Output string `json:"output,omitempty"`
	// Target is what it would reach beyond the file: a remote path, a
	// URL (its password hidden), recipients.
	Target string `json:"target,omitempty"`
	// OK says whether it would succeed as far as can be known without
	// doing it; Notes say what was checked or why not.
	OK    bool     `json:"ok"`
	Notes []string `json:"notes,omitempty"`
}

// DryRunInput is what a dry run runs on: a storage path, or a recorded
// event (with its file).
type DryRunInput struct {
	Path  string
	Event *mft.Event
	// CheckConnections dials the connections the actions use.
	CheckConnections bool
}

// DryRun answers what automation a would do on in, changing nothing.
func (e *Engine) DryRun(ctx context.Context, a *mft.Automation, in DryRunInput) (*DryRun, error) {
	now := e.Now()
	out := &DryRun{Conditions: []ConditionVerdict{}, Actions: []PlannedAction{}, File: in.Path}
	var s subject
	switch {
	case in.Event != nil:
		p := in.Event.Path
		if in.Event.NewPath != "" {
			p = in.Event.NewPath
		}
		s = subject{path: p, user: in.Event.Actor, bucket: in.Event.Bucket, protocol: in.Event.Protocol, size: in.Event.Size,
			modified: in.Event.Time, hasFile: p != "", groups: e.groupsOf}
		if in.Event.Event == mft.EventFileUploaded || in.Event.Event == mft.EventFileRenamed {
			out.File = p
		}
	case in.Path != "":
		fi, err := e.Files.Stat(ctx, systemActor(a.ID, 0), in.Path)
		if err != nil {
			return nil, err
		}
		s = subject{path: fi.Path, size: fi.Size, modified: fi.ModifiedAt, hasFile: true, groups: func(string) []string { return nil }}
		out.File = fi.Path
	}
	out.Runs = true
	for _, c := range a.Conditions {
		h := holds(c, s, now)
		out.Conditions = append(out.Conditions, ConditionVerdict{Condition: c, Holds: h, Passes: h != c.Negate})
		out.Runs = out.Runs && h != c.Negate
	}
	if a.Source != nil && a.Source.Connection == "" && in.Path == "" && in.Event == nil {
		list, err := e.walk(ctx, a.Source.Path, a.Source.Recursive)
		if err != nil {
			return nil, err
		}
		for _, fi := range list {
			version := fmt.Sprintf("%d:%d", fi.Size, fi.ModifiedAt.UnixNano())
			if done, err := e.Store.Processed(ctx, a.ID, fi.Path, version); err == nil && !done && matchFile(a.Conditions, fi, now) {
				out.Picks = append(out.Picks, fi.Path)
			}
		}
	}
	x := &step{e: e, a: a, r: &mft.Run{ID: "dry-run", Event: in.Event}, actor: systemActor(a.ID, 0), user: s.user, bucket: s.bucket, now: now}
	file := out.File
	for _, act := range a.Actions {
		p := x.plan(ctx, act, file, in.CheckConnections)
		out.Actions = append(out.Actions, p)
		file = p.Output
		if act.Type == "decompress" || act.Type == "download" {
			break // the files it yields are known when it runs
		}
	}
	return out, nil
}

// plan resolves one action on file without running it.
func (x *step) plan(ctx context.Context, act mft.Action, file string, dial bool) PlannedAction {
	p := PlannedAction{Type: act.Type, Input: file, Output: file, OK: true}
	note := func(format string, args ...any) { p.Notes = append(p.Notes, fmt.Sprintf(format, args...)) }
	fail := func(format string, args ...any) { p.OK = false; note(format, args...) }
	needFile := act.Type != "webhook" && act.Type != "http" && act.Type != "email" && act.Type != "download"
	if needFile && file == "" {
		fail("no file to work on")
		return p
	}
	if needFile {
		if _, err := x.e.Files.Stat(ctx, x.actor, file); err != nil {
			note("%s is not there now (%s); an earlier action may make it", file, mft.ErrorMessage(err))
		}
	}
	target := func(to string) {
		if fi, err := x.e.Files.Stat(ctx, x.actor, to); err == nil {
			if fi.Type == mft.TypeFolder {
				fail("%s is a folder", to)
			} else {
				note("%s exists and would be replaced", to)
			}
		}
	}
	switch act.Type {
	case "rename":
		p.Output = path.Join(path.Dir(file), x.expand(act.To, file))
		target(p.Output)
	case "copy", "move":
		to := x.expand(act.To, file)
		if strings.HasSuffix(to, "/") {
			to += path.Base(file)
		}
		clean, err := files.CleanPath(to)
		if err != nil {
			fail("%s", mft.ErrorMessage(err))
			return p
		}
		p.Output = clean
		target(clean)
	case "delete":
		p.Output = ""
	case "pgp_encrypt":
		p.Output = file + ".pgp"
	case "pgp_decrypt":
		p.Output = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(file, ".pgp"), ".gpg"), ".asc")
	case "compress":
		p.Output = file + map[string]string{"zip": ".zip", "tar.gz": ".tar.gz", "gzip": ".gz"}[act.Format]
	case "decompress":
		format, stem, err := archiveFormat(act, path.Base(file))
		if err != nil {
			fail("%v", err)
			return p
		}
		p.Output = path.Join(path.Dir(file), stem)
		if act.To != "" {
			p.Output = x.expand(act.To, file)
		}
		note("a %s archive; the rest of the chain runs on each file unpacked", format)
	case "upload", "download":
		to := act.From
		if act.Type == "upload" {
			to = x.expand(act.To, file)
			if strings.HasSuffix(to, "/") {
				to += path.Base(file)
			}
			clean, err := remote.Clean(to)
			if err != nil {
				fail("%s", mft.ErrorMessage(err))
				return p
			}
			to = "/" + clean
			if !act.KeepOriginal {
				p.Output = ""
			}
		} else {
			p.Output = act.To
		}
		p.Target = act.Connection + ":" + to
		if c, err := x.e.Connections.Store.FindConnection(ctx, act.Connection); err != nil {
			fail("connection %s: %s", act.Connection, mft.ErrorMessage(err))
		} else if dial && c.Type != mft.ConnAS2 {
			if res, err := x.e.Connections.Test(ctx, c); err != nil {
				fail("%s does not answer: %s", c.Name, mft.ErrorMessage(err))
			} else {
				note("%s answered in %d ms", c.Name, res.LatencyMS)
			}
		}
	case "webhook", "http":
		p.Target = act.Method + " " + mft.HiddenURL(x.template(act.URL, file, false))
		p.Target = strings.TrimSpace(p.Target)
	case "email":
		p.Target = strings.Join(append(append([]string(nil), act.Recipients...), act.Cc...), ", ")
		note("subject: %s", x.template(act.Subject, file, false))
		if x.e.Mailer == nil {
			fail("%v", errNoMailer)
		}
	}
	return p
}

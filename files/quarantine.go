package files

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"depot/mft"
)

// Quarantined is a file the antivirus found infected, kept outside every
// user's tree (data/quarantine) for an administrator to look at, release
// or delete.
type Quarantined struct {
	ID string `json:"id"`
	// Path is the storage path it was uploaded to; Client the path the
	// uploader gave.
	Path     string    `json:"path"`
	Client   string    `json:"client_path"`
	User     string    `json:"user,omitempty"`
	Protocol string    `json:"protocol"`
	IP       string    `json:"ip,omitempty"`
	Finding  string    `json:"finding"`
	Engine   string    `json:"engine"`
	Size     int64     `json:"size"`
	SHA256   string    `json:"sha256"`
	Time     time.Time `json:"time"`
	// Kept: the bytes are in the quarantine (an upload to a mount was
	// streamed to the remote, and is aborted there: nothing is kept).
	Kept bool `json:"kept"`
}

// quarantine is data/quarantine: <id> holds a file's bytes, <id>.json its
// record. Its size is bounded: the oldest go first.
type quarantine struct {
	mu    sync.Mutex
	root  *os.Root
	limit int64 // bytes; 0: none
}

// SetQuarantine opens data/quarantine with a bound of limit bytes.
func (s *Service) SetQuarantine(limit int64) error {
	dir := path.Join(s.dataDir, "quarantine")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	s.quarantine = &quarantine{root: root, limit: limit}
	return nil
}

// scanned awaits the verdict of an upload's scan and returns why the
// file may not be published, if it may not: infected (the file goes to
// the quarantine through keep, nil when its bytes are not here, and
// file.quarantined fires), larger than the engine scans, or the engine
// failed, each as the scan policy says. What is published says in the
// event how it was scanned.
func (s *Service) scanned(ctx context.Context, a Actor, t target, lw *limitWriter, keep func(w io.Writer) error) error {
	sh, ok := lw.h.(*scanHash)
	if !ok {
		return nil
	}
	v := sh.verdict()
	switch {
	case v.Infected != "":
		q := Quarantined{ID: randText(), Path: t.storage, Client: t.client, Protocol: a.Protocol, IP: a.IP, Finding: v.Infected,
			Engine: v.Engine, Size: lw.n, SHA256: hex.EncodeToString(lw.h.Sum(nil)), Time: s.Now().UTC()}
		if a.User != nil {
			q.User = a.User.ID
		}
		if err := s.keep(&q, keep); err != nil && s.Logger != nil {
			s.Logger.Error("quarantine: keeping an infected file", "path", t.storage, "err", err)
		}
		s.publish(mft.Event{Event: mft.EventFileQuarantined, Path: t.storage, Size: lw.n, SHA256: q.SHA256, Status: mft.StatusDenied,
			Target: q.ID, Message: v.Infected}, a)
		return mft.Errorf(mft.EINVALID, "%s contains malware (%s); it was not stored.", t.client, v.Infected)
	case v.TooLarge && s.ScanPolicy.AllowOversize:
		lw.note = "published unscanned: larger than scan.max_size"
	case v.TooLarge:
		return mft.Errorf(mft.ETOOLARGE, "%s is larger than the antivirus scans (scan.max_size); it was not stored.", t.client)
	case v.Err != nil && s.ScanPolicy.AllowUnscanned:
		lw.note = "published unscanned: " + v.Err.Error()
	case v.Err != nil:
		if s.Logger != nil {
			s.Logger.Error("antivirus: a file could not be scanned", "path", t.storage, "err", v.Err)
		}
		s.publish(mft.Event{Event: mft.EventFileUploaded, Path: t.storage, Size: lw.n, Status: mft.StatusError,
			Message: "not stored: the antivirus could not scan it (" + v.Err.Error() + ")"}, a)
		return mft.Errorf(mft.EUNAVAILABLE, "The antivirus is not answering, so %s was not stored; try again later.", t.client)
	default:
		lw.note = "scanned clean by " + v.Engine
		if v.Version != "" {
			lw.note += " (" + v.Version + ")"
		}
	}
	return nil
}

// keep writes q's bytes (when keep is given) and record to the
// quarantine, then removes the oldest beyond the bound.
func (s *Service) keep(q *Quarantined, keep func(w io.Writer) error) error {
	qd := s.quarantine
	if qd == nil {
		return errors.New("no quarantine folder")
	}
	qd.mu.Lock()
	defer qd.mu.Unlock()
	if keep != nil {
		f, err := qd.root.OpenFile(q.ID, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		err = errors.Join(keep(f), f.Close())
		if err != nil {
			qd.root.Remove(q.ID)
			return err
		}
		q.Kept = true
	}
	rec, _ := json.Marshal(q)
	if err := qd.root.WriteFile(q.ID+".json", rec, 0o600); err != nil {
		qd.root.Remove(q.ID)
		return err
	}
	return qd.trim()
}

// trim removes the oldest quarantined files while they take more than
// the bound. qd.mu is held.
func (qd *quarantine) trim() error {
	if qd.limit <= 0 {
		return nil
	}
	list, err := qd.list()
	if err != nil {
		return err
	}
	var total int64
	for _, q := range list {
		if q.Kept {
			total += q.Size
		}
	}
	for i := 0; total > qd.limit && i < len(list); i++ { // oldest first
		if list[i].Kept {
			total -= list[i].Size
		}
		qd.root.Remove(list[i].ID)
		qd.root.Remove(list[i].ID + ".json")
	}
	return nil
}

// list reads every record, oldest first.
func (qd *quarantine) list() ([]Quarantined, error) {
	names, err := fs.Glob(qd.root.FS(), "*.json")
	if err != nil {
		return nil, err
	}
	var out []Quarantined
	for _, n := range names {
		b, err := qd.root.ReadFile(n)
		if err != nil {
			continue
		}
		var q Quarantined
		if json.Unmarshal(b, &q) == nil && q.ID+".json" == n {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(a, b Quarantined) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Quarantine lists the quarantined files, oldest first.
func (s *Service) Quarantine() ([]Quarantined, error) {
	if s.quarantine == nil {
		return []Quarantined{}, nil
	}
	s.quarantine.mu.Lock()
	defer s.quarantine.mu.Unlock()
	list, err := s.quarantine.list()
	if list == nil {
		list = []Quarantined{}
	}
	return list, err
}

// record reads one quarantine record.
func (s *Service) record(id string) (Quarantined, error) {
	var q Quarantined
	if s.quarantine == nil || id == "" || strings.ContainsAny(id, "/.\\") {
		return q, mft.Errorf(mft.ENOTFOUND, "No quarantined file has the id %q.", id)
	}
	b, err := s.quarantine.root.ReadFile(id + ".json")
	if err != nil || json.Unmarshal(b, &q) != nil {
		return q, mft.Errorf(mft.ENOTFOUND, "No quarantined file has the id %q.", id)
	}
	return q, nil
}

// QuarantinedFile returns one record and, when its bytes are kept, the
// file open for reading (the caller closes it).
func (s *Service) QuarantinedFile(id string) (Quarantined, *os.File, error) {
	q, err := s.record(id)
	if err != nil || !q.Kept {
		return q, nil, err
	}
	f, err := s.quarantine.root.Open(id)
	if err != nil {
		return q, nil, mft.Errorf(mft.ENOTFOUND, "The bytes of quarantined file %s are gone.", id)
	}
	return q, f, nil
}

// DeleteQuarantined removes a quarantined file and its record.
func (s *Service) DeleteQuarantined(id string) error {
	if _, err := s.record(id); err != nil {
		return err
	}
	s.quarantine.mu.Lock()
	defer s.quarantine.mu.Unlock()
	s.quarantine.root.Remove(id)
	return s.quarantine.root.Remove(id + ".json")
}

// ReleaseQuarantined publishes a quarantined file at the path it was
// uploaded to, as a's upload (an administrator's, who sees the whole
// tree), not scanned again, then removes it from the quarantine. Its
// file.uploaded event says it was released and what was found.
func (s *Service) ReleaseQuarantined(ctx context.Context, a Actor, id string, overwrite bool) (mft.FileInfo, error) {
	q, f, err := s.QuarantinedFile(id)
	if err != nil {
		return mft.FileInfo{}, err
	}
	if f == nil {
		return mft.FileInfo{}, mft.Errorf(mft.EINVALID, "The bytes of %s were not kept (it was uploaded to mounted storage); there is nothing to release.", q.Path)
	}
	defer f.Close()
	fi, err := s.Upload(ctx, a, q.Path, f, UploadOptions{Size: q.Size, Overwrite: overwrite,
		Release: "released from the quarantine (" + q.Finding + " found by " + q.Engine + ")"})
	if err != nil {
		return mft.FileInfo{}, err
	}
	return fi, s.DeleteQuarantined(id)
}

package mft

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Folder holds the rules of a storage folder and everything below it:
// which file extensions may be stored, how large a file may be, how many
// bytes the folder may hold and how many days files are kept.
type Folder struct {
	ID                string    `json:"id"`
	Path              string    `json:"path"`
	AllowedExtensions []string  `json:"allowed_extensions"`
	BlockedExtensions []string  `json:"blocked_extensions"`
	MaxFileSize       int64     `json:"max_file_size"` // MB, 0 = no limit
	QuotaMB           int64     `json:"quota_mb"`      // 0 = no limit
	RetentionDays     int       `json:"retention_days"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Validate normalizes the extension lists (lower case, no leading dot,
// no duplicates) and reports the first problem as an EINVALID error.
func (f *Folder) Validate() error {
	if err := ValidateStoragePath("path", f.Path); err != nil {
		return err
	}
	var err error
	if f.AllowedExtensions, err = normalizeExtensions("allowed_extensions", f.AllowedExtensions); err != nil {
		return err
	}
	if f.BlockedExtensions, err = normalizeExtensions("blocked_extensions", f.BlockedExtensions); err != nil {
		return err
	}
	switch {
	case f.MaxFileSize < 0 || f.MaxFileSize > MaxMB:
		return Errorf(EINVALID, "max_file_size must be 0 (no limit) up to %d (megabytes)", MaxMB)
	case f.QuotaMB < 0 || f.QuotaMB > MaxMB:
		return Errorf(EINVALID, "quota_mb must be 0 (no limit) up to %d (megabytes)", MaxMB)
	case f.RetentionDays < 0 || f.RetentionDays > 36500:
		return Errorf(EINVALID, "retention_days must be 0 (keep forever) up to 36500")
	}
	return nil
}

func normalizeExtensions(field string, exts []string) ([]string, error) {
	out := []string{}
	for _, e := range exts {
		e = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(e), "."))
		if e == "" || len(e) > 32 || strings.ContainsFunc(e, notExtensionRune) {
			return nil, Errorf(EINVALID, "%s: %q is not a file extension such as \"csv\"", field, e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// notExtensionRune reports a character that has no place in a file
// extension: extensions are letters, digits and - _ + ~.
func notExtensionRune(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_+~", r)
}

// Extension returns the lower-case extension of a file name without the
// dot ("" for none); "report.tar.gz" has "gz".
func Extension(name string) string {
	ext := path.Ext(name)
	if ext == "" || ext == name {
		return ""
	}
	return strings.ToLower(ext[1:])
}

// CheckName returns EINVALID if the rule refuses a file of that name;
// the message calls the folder shown, its path as the caller sees it.
// Where the rule has extension lists, a name that Windows would save
// under another extension is EMALFORMED: "evil.exe." and "evil.exe "
// (Windows drops trailing dots and spaces), "evil.exe::$DATA" (a stream)
// and "evil.exe" with an invisible character (U+200B).
func (f *Folder) CheckName(name, shown string) error {
	if len(f.BlockedExtensions) > 0 || len(f.AllowedExtensions) > 0 {
		if err := windowsSafe(name); err != nil {
			return err
		}
	}
	ext := Extension(name)
	if slices.Contains(f.BlockedExtensions, ext) && ext != "" {
		return Errorf(EINVALID, "Files ending in .%s may not be stored in %s.", ext, shown)
	}
	if len(f.AllowedExtensions) > 0 && !slices.Contains(f.AllowedExtensions, ext) {
		return Errorf(EINVALID, "%s only accepts files ending in .%s.", shown, strings.Join(f.AllowedExtensions, ", ."))
	}
	return nil
}

// FolderUpdate holds the fields a partial update changes.
type FolderUpdate struct {
	AllowedExtensions *[]string
	BlockedExtensions *[]string
	MaxFileSize       *int64
	QuotaMB           *int64
	RetentionDays     *int
}

// Apply sets the fields upd names.
func (f *Folder) Apply(upd FolderUpdate) {
	if upd.AllowedExtensions != nil {
		f.AllowedExtensions = slices.Clone(*upd.AllowedExtensions)
	}
	if upd.BlockedExtensions != nil {
		f.BlockedExtensions = slices.Clone(*upd.BlockedExtensions)
	}
	if upd.MaxFileSize != nil {
		f.MaxFileSize = *upd.MaxFileSize
	}
	if upd.QuotaMB != nil {
		f.QuotaMB = *upd.QuotaMB
	}
	if upd.RetentionDays != nil {
		f.RetentionDays = *upd.RetentionDays
	}
}

// FolderStore stores folder rules.
type FolderStore interface {
	// FindFolderByID returns ENOTFOUND if the rule does not exist.
	FindFolderByID(ctx context.Context, id string) (*Folder, error)
	// FindFolders returns one page of rules ordered by id.
	FindFolders(ctx context.Context, page Page) ([]*Folder, bool, error)
	// FindFoldersAbove returns the rules on storage path p and each of its
	// ancestors, nearest first.
	FindFoldersAbove(ctx context.Context, p string) ([]*Folder, error)
	// FindRetentionFolders returns every rule with retention_days set.
	FindRetentionFolders(ctx context.Context) ([]*Folder, error)
	// CreateFolder returns EINVALID if f is invalid or its path already
	// has a rule.
	CreateFolder(ctx context.Context, f *Folder) error
	// UpdateFolder returns ENOTFOUND or EINVALID.
	UpdateFolder(ctx context.Context, id string, upd FolderUpdate) (*Folder, error)
	// DeleteFolder returns ENOTFOUND. The files stay.
	DeleteFolder(ctx context.Context, id string) error
}

// windowsSafe refuses a name that a Windows client would store under
// another name, so that extension rules judge the name that is saved.
func windowsSafe(name string) error {
	switch {
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return Errorf(EMALFORMED, "%q ends in a dot or a space, which Windows drops, changing its extension; rename it.", name)
	case strings.Contains(name, ":"):
		return Errorf(EMALFORMED, "%q contains \":\", which Windows reads as a data stream of another file; rename it.", name)
	}
	for _, r := range name {
		if unicode.Is(unicode.Cf, r) {
			return Errorf(EMALFORMED, "%q contains an invisible format character (U+%04X), which can disguise its extension; rename it.", name, r)
		}
	}
	return nil
}

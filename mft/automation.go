package mft

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Automation triggers.
const (
	TriggerEvent    = "event"
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// Condition types.
var ConditionTypes = []string{"path", "name", "size", "user", "group", "bucket", "age", "protocol"}

// ConditionProtocols are the values of a protocol condition: what an
// event came over (its audit protocol).
var ConditionProtocols = []string{AuditAPI, AuditSFTP, AuditFTP, AuditWebDAV, AuditWeb, AuditAS2, AuditAutomation, AuditSystem}

// Action types.
var ActionTypes = []string{"webhook", "rename", "copy", "move", "delete", "pgp_encrypt", "pgp_decrypt", "upload", "download",
	"compress", "decompress", "http", "email"}

// ArchiveFormats are what compress writes and decompress reads.
var ArchiveFormats = []string{"zip", "tar.gz", "gzip"}

// Bounds of a decompress when its action leaves them out.
const (
	DefaultMaxEntries = 10_000
	DefaultMaxSizeMB  = 10 << 10 // 10 GiB
	DefaultMaxRatio   = 200
)

// NeedsFile reports whether an action of the automation works on a file
// (every action but webhook), so that a run without one would fail.
func (a *Automation) NeedsFile() bool {
	if a.Source.Remote() { // the source fetches the files
		return false
	}
	for _, act := range a.Actions {
		switch act.Type {
		case "webhook":
		case "download": // fetches the files the rest works on
			return false
		default:
			return true
		}
	}
	return false
}

// Automation is a workflow: on an event, a schedule or by hand, a chain of
// actions runs on a file when its conditions hold.
type Automation struct {
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Enabled    bool        `json:"enabled"`
	Trigger    string      `json:"trigger"`
	Events     []string    `json:"events"`
	Schedule   string      `json:"schedule,omitempty"`
	Timezone   string      `json:"timezone,omitempty"`
	Source     *Source     `json:"source,omitempty"`
	Conditions []Condition `json:"conditions"`
	Actions    []Action    `json:"actions"`
	Retry      Retry       `json:"retry"`
	// Notify emails these addresses when a run fails for good (and, with
	// on_success, when one succeeds).
	Notify *Notify `json:"notify,omitempty"`
	// TriggerTokenHash is the SHA-256 of the token of the automation's
	// inbound trigger URL ("" when it has none); never shown.
	TriggerTokenHash string    `json:"trigger_token_hash,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Notify is who hears of an automation's runs by email.
type Notify struct {
	OnFailure []string `json:"on_failure,omitempty"`
	OnSuccess []string `json:"on_success,omitempty"`
}

// Source is the folder whose files a scheduled automation processes: a
// local storage folder, or with Connection a remote folder that each
// tick polls, fetching its new files into To (as a download action that
// runs first: Pattern, After and MoveTo as there), and running the
// actions on each file fetched.
type Source struct {
	Path       string `json:"path" depot:"path"`
	Recursive  bool   `json:"recursive"`
	Connection string `json:"connection,omitempty"`
	Pattern    string `json:"pattern,omitempty"`
	To         string `json:"to,omitempty" depot:"path"`
	After      string `json:"after,omitempty"`
	MoveTo     string `json:"move_to,omitempty" depot:"path"`
}

// Remote reports whether the source is a connection's folder.
func (s *Source) Remote() bool { return s != nil && s.Connection != "" }

// Download is the action that fetches a remote source's new files.
func (s *Source) Download() Action {
	return Action{Type: "download", Connection: s.Connection, From: s.Path, Pattern: s.Pattern, Recursive: s.Recursive,
		To: s.To, After: s.After, MoveTo: s.MoveTo}
}

// Condition decides whether a file is processed; Negate inverts it.
type Condition struct {
	Type    string `json:"type"`
	Negate  bool   `json:"negate,omitempty"`
	Pattern string `json:"pattern,omitempty"` // path, name: glob (path allows **)
	Min     *int64 `json:"min,omitempty"`     // size: bytes
	Max     *int64 `json:"max,omitempty"`
	Value   string `json:"value,omitempty"` // user, group, bucket: id; protocol: api, sftp, web, as2, …
	Older   string `json:"older_than,omitempty"`
}

// Action is one step of the chain. Secrets (webhook secret, private key,
// passphrase) are stored encrypted and never shown.
type Action struct {
	Type         string `json:"type"`
	URL          string `json:"url,omitempty" depot:"path"`
	Secret       string `json:"secret,omitempty"`
	To           string `json:"to,omitempty" depot:"path"`
	PublicKey    string `json:"public_key,omitempty" depot:"text"`
	KeepOriginal bool   `json:"keep_original,omitempty"`
	PrivateKey   string `json:"private_key,omitempty" depot:"text"`
	Passphrase   string `json:"passphrase,omitempty"`
	// Connection is the remote of upload (to it) and download (from it).
	Connection string `json:"connection,omitempty"`
	// download: the remote folder, a glob of the names to fetch, whether
	// to descend, and what to do with a remote file once fetched: ""
	// (leave it; it is fetched again only when it changes), "delete" or
	// "move" (to MoveTo, a remote folder).
	From      string `json:"from,omitempty" depot:"path"`
	Pattern   string `json:"pattern,omitempty"`
	Recursive bool   `json:"recursive,omitempty"`
	After     string `json:"after,omitempty"`
	MoveTo    string `json:"move_to,omitempty" depot:"path"`
	// compress and decompress: the archive's format (zip, tar.gz, gzip;
	// decompress reads it from the name when left out), and a
	// decompress's bounds: entries, total size unpacked and the ratio of
	// that to the archive's size (0: the defaults).
	Format     string `json:"format,omitempty"`
	MaxEntries int    `json:"max_entries,omitempty"`
	MaxSizeMB  int64  `json:"max_size_mb,omitempty"`
	MaxRatio   int    `json:"max_ratio,omitempty"`
	// http: the method (POST when left out), headers (the values of
	// secret-looking ones sealed: SecretHeader), the body (a template with
	// placeholders, JSON-escaped in a JSON body; or the file itself with
	// body_from "file", or as a multipart form with "multipart"), the
	// statuses that succeed (2xx when left out) and a timeout.
	Method   string            `json:"method,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Body     string            `json:"body,omitempty" depot:"text"`
	BodyFrom string            `json:"body_from,omitempty"`
	Expect   []int             `json:"expect_status,omitempty"`
	Timeout  string            `json:"timeout,omitempty"`
	// email: recipients and cc, a subject template; the body template is
	// Body. Attach sends the file along when it is at most AttachMaxMB
	// (10); a larger one gets a shared link made as LinkAs (a user id;
	// the event's user when left out), or its path when none can be made.
	Recipients  []string `json:"recipients,omitempty"`
	Cc          []string `json:"cc,omitempty"`
	Subject     string   `json:"subject,omitempty"`
	Attach      bool     `json:"attach,omitempty"`
	AttachMaxMB int64    `json:"attach_max_mb,omitempty"`
	LinkAs      string   `json:"link_as,omitempty"`
}

// DefaultAttachMaxMB is the largest file an email action attaches when
// attach_max_mb is left out.
const DefaultAttachMaxMB = 10

var emailAddress = regexp.MustCompile(`^[^@\s<>,;"]+@[^@\s<>,;"]+\.[^@\s<>,;"]+$`)

// ValidEmails reports the first address of list that is not one.
func ValidEmails(list []string) (string, bool) {
	for _, a := range list {
		if !emailAddress.MatchString(a) || len(a) > 254 {
			return a, false
		}
	}
	return "", true
}

// SecretHeader reports whether an http action's header holds a secret
// (its value is sealed and shown as "(set)").
func SecretHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"authorization", "token", "key", "secret", "password", "cookie", "signature"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Retry says how often a failed run is tried in all.
type Retry struct {
	Attempts int `json:"attempts"`
}

// DefaultRetryAttempts is how often a run is tried when retry is unset.
const DefaultRetryAttempts = 3

// Validate reports the first problem, naming the field. parseSchedule
// checks a cron expression in a time zone (the automation package's
// parser; mft imports only the standard library).
func (a *Automation) Validate(parseSchedule func(spec, tz string) error) error {
	switch {
	case strings.TrimSpace(a.Name) == "" || len(a.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case a.Trigger != TriggerEvent && a.Trigger != TriggerSchedule && a.Trigger != TriggerManual:
		return Errorf(EINVALID, "trigger must be event, schedule or manual")
	case len(a.Actions) == 0:
		return Errorf(EINVALID, "actions must list at least one action")
	case len(a.Actions) > 20 || len(a.Conditions) > 20:
		return Errorf(EINVALID, "at most 20 actions and 20 conditions")
	case a.Retry.Attempts < 0 || a.Retry.Attempts > 20:
		return Errorf(EINVALID, "retry.attempts must be 1 to 20")
	}
	if a.Retry.Attempts == 0 {
		a.Retry.Attempts = DefaultRetryAttempts
	}
	if a.Events == nil {
		a.Events = []string{}
	}
	if a.Conditions == nil {
		a.Conditions = []Condition{}
	}
	switch a.Trigger {
	case TriggerEvent:
		if len(a.Events) == 0 {
			return Errorf(EINVALID, "events: an event automation needs at least one event, such as file.uploaded")
		}
		for _, e := range a.Events {
			if !slices.Contains(EventNames, e) {
				return Errorf(EINVALID, "events: %q is not an event; one of %s", e, strings.Join(EventNames, ", "))
			}
		}
		if a.Schedule != "" || a.Source != nil {
			return Errorf(EINVALID, "schedule and source are for trigger schedule")
		}
	case TriggerSchedule:
		if a.Schedule == "" {
			return Errorf(EINVALID, "schedule is required for trigger schedule, such as \"@every 5m\" or \"0 2 * * *\"")
		}
		if err := parseSchedule(a.Schedule, a.Timezone); err != nil {
			return Errorf(EINVALID, "schedule: %v", err)
		}
	case TriggerManual:
		if a.Schedule != "" {
			return Errorf(EINVALID, "schedule is for trigger schedule")
		}
	}
	if a.Trigger != TriggerEvent && len(a.Events) > 0 {
		return Errorf(EINVALID, "events are for trigger event")
	}
	switch src := a.Source; {
	case src.Remote():
		d := src.Download()
		if err := d.validateAs("source"); err != nil {
			return err
		}
		src.Pattern = d.Pattern
	case src != nil:
		if src.Pattern != "" || src.To != "" || src.After != "" || src.MoveTo != "" {
			return Errorf(EINVALID, "source: pattern, to, after and move_to are for a connection's folder (source.connection); a local source takes path and recursive")
		}
		if err := ValidateStoragePath("source.path", src.Path); err != nil {
			return err
		}
	}
	if a.Notify != nil {
		if len(a.Notify.OnFailure)+len(a.Notify.OnSuccess) > 50 {
			return Errorf(EINVALID, "notify: at most 50 addresses")
		}
		if bad, ok := ValidEmails(append(append([]string(nil), a.Notify.OnFailure...), a.Notify.OnSuccess...)); !ok {
			return Errorf(EINVALID, "notify: %q is not an email address", bad)
		}
	}
	for i := range a.Conditions {
		if err := a.Conditions[i].validate(i); err != nil {
			return err
		}
	}
	for i := range a.Actions {
		if err := a.Actions[i].validateAs(fmt.Sprintf("actions[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Condition) validate(i int) error {
	field := fmt.Sprintf("conditions[%d]", i)
	switch c.Type {
	case "path", "name":
		if c.Pattern == "" {
			return Errorf(EINVALID, "%s.pattern is required for a %s condition, such as \"*.csv\"", field, c.Type)
		}
		if _, err := path.Match(strings.ReplaceAll(c.Pattern, "**", "*"), ""); err != nil {
			return Errorf(EINVALID, "%s.pattern %q is not a valid glob", field, c.Pattern)
		}
	case "size":
		if c.Min == nil && c.Max == nil {
			return Errorf(EINVALID, "%s: a size condition needs min and/or max (bytes)", field)
		}
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			return Errorf(EINVALID, "%s: min is larger than max", field)
		}
	case "user", "group", "bucket":
		if c.Value == "" {
			return Errorf(EINVALID, "%s.value is required for a %s condition (an id)", field, c.Type)
		}
	case "protocol":
		if !slices.Contains(ConditionProtocols, c.Value) {
			return Errorf(EINVALID, "%s.value must be one of %s for a protocol condition", field, strings.Join(ConditionProtocols, ", "))
		}
	case "age":
		if d, err := time.ParseDuration(c.Older); err != nil || d <= 0 {
			return Errorf(EINVALID, "%s.older_than must be a duration such as \"10m\" or \"24h\"", field)
		}
	default:
		return Errorf(EINVALID, "%s.type %q is not a condition; one of %s", field, c.Type, strings.Join(ConditionTypes, ", "))
	}
	return nil
}

// fromField names a download's remote folder: from, or a source's path.
func fromField(field string) string {
	if field == "source" {
		return "source.path"
	}
	return field + ".from"
}

// validateAs checks an action, naming it field in messages.
func (a *Action) validateAs(field string) error {
	switch a.Type {
	case "webhook":
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Errorf(EINVALID, "%s.url must be an http or https URL", field)
		}
	case "rename":
		if a.To == "" || strings.Contains(a.To, "/") {
			return Errorf(EINVALID, "%s.to is required for rename: a new name (placeholders allowed), without /", field)
		}
	case "copy", "move":
		if a.To == "" || !strings.HasPrefix(a.To, "/") {
			return Errorf(EINVALID, "%s.to is required for %s: an absolute path; a trailing / keeps the name", field, a.Type)
		}
	case "delete":
	case "pgp_encrypt":
		if !strings.Contains(a.PublicKey, "BEGIN PGP PUBLIC KEY BLOCK") {
			return Errorf(EINVALID, "%s.public_key must be an armored OpenPGP public key", field)
		}
	case "pgp_decrypt":
		if !strings.Contains(a.PrivateKey, "BEGIN PGP PRIVATE KEY BLOCK") {
			return Errorf(EINVALID, "%s.private_key must be an armored OpenPGP private key", field)
		}
	case "upload":
		switch {
		case !strings.HasPrefix(a.Connection, "conn_"):
			return Errorf(EINVALID, "%s.connection is required for upload: a connection id (conn_…)", field)
		case a.To == "" || strings.Contains(a.To, ".."):
			return Errorf(EINVALID, "%s.to is required for upload: a remote path below the connection's base path; a trailing / keeps the name", field)
		}
	case "download":
		if a.Pattern == "" {
			a.Pattern = "*"
		}
		switch {
		case !strings.HasPrefix(a.Connection, "conn_"):
			return Errorf(EINVALID, "%s.connection is required for download: a connection id (conn_…)", field)
		case strings.Contains(a.From, ".."):
			return Errorf(EINVALID, "%s may not contain \"..\"", fromField(field))
		case a.To == "" || !strings.HasPrefix(a.To, "/"):
			return Errorf(EINVALID, "%s.to is required for download: the local folder, an absolute path", field)
		case a.After != "" && a.After != "delete" && a.After != "move":
			return Errorf(EINVALID, "%s.after must be \"delete\", \"move\" or left out", field)
		case a.After == "move" && (a.MoveTo == "" || strings.Contains(a.MoveTo, "..")):
			return Errorf(EINVALID, "%s.move_to is required for after \"move\": a remote folder", field)
		}
		if _, err := path.Match(a.Pattern, ""); err != nil || strings.Contains(a.Pattern, "/") {
			return Errorf(EINVALID, "%s.pattern %q is not a glob of names", field, a.Pattern)
		}
	case "http":
		if err := a.validateHTTP(field); err != nil {
			return err
		}
	case "email":
		if len(a.Recipients) == 0 || len(a.Recipients)+len(a.Cc) > 50 {
			return Errorf(EINVALID, "%s.recipients is required for email: 1 to 50 addresses (with cc)", field)
		}
		if bad, ok := ValidEmails(append(append([]string(nil), a.Recipients...), a.Cc...)); !ok {
			return Errorf(EINVALID, "%s: %q is not an email address", field, bad)
		}
		if strings.TrimSpace(a.Subject) == "" || len(a.Subject) > 500 || strings.ContainsAny(a.Subject, "\r\n") {
			return Errorf(EINVALID, "%s.subject is required for email: one line, placeholders allowed", field)
		}
		if a.AttachMaxMB < 0 || len(a.Body) > 64<<10 {
			return Errorf(EINVALID, "%s: attach_max_mb may not be negative, the body at most 64 KiB", field)
		}
	case "compress":
		if a.Format == "" {
			a.Format = "zip"
		}
		if !slices.Contains(ArchiveFormats, a.Format) {
			return Errorf(EINVALID, "%s.format must be one of %s", field, strings.Join(ArchiveFormats, ", "))
		}
		if strings.Contains(a.To, "..") {
			return Errorf(EINVALID, "%s.to may not contain \"..\"", field)
		}
	case "decompress":
		switch {
		case a.Format != "" && !slices.Contains(ArchiveFormats, a.Format) && a.Format != "tar":
			return Errorf(EINVALID, "%s.format must be zip, tar.gz, tar or gzip, or left out (read from the name)", field)
		case a.To != "" && !strings.HasPrefix(a.To, "/"):
			return Errorf(EINVALID, "%s.to must be an absolute folder (placeholders allowed), or left out: next to the archive", field)
		case strings.Contains(a.To, ".."):
			return Errorf(EINVALID, "%s.to may not contain \"..\"", field)
		case a.MaxEntries < 0 || a.MaxSizeMB < 0 || a.MaxRatio < 0:
			return Errorf(EINVALID, "%s: max_entries, max_size_mb and max_ratio may not be negative", field)
		}
	default:
		return Errorf(EINVALID, "%s.type %q is not an action; one of %s", field, a.Type, strings.Join(ActionTypes, ", "))
	}
	if a.Type != "http" && (a.Method != "" || len(a.Headers) > 0 || a.BodyFrom != "" || len(a.Expect) > 0 || a.Timeout != "") {
		return Errorf(EINVALID, "%s: method, headers, body_from, expect_status and timeout are for http", field)
	}
	if a.Type != "http" && a.Type != "email" && a.Body != "" {
		return Errorf(EINVALID, "%s: body is for http and email", field)
	}
	if a.Type != "email" && (len(a.Recipients) > 0 || len(a.Cc) > 0 || a.Subject != "" || a.Attach || a.AttachMaxMB != 0 || a.LinkAs != "") {
		return Errorf(EINVALID, "%s: recipients, cc, subject, attach, attach_max_mb and link_as are for email", field)
	}
	if a.Type != "compress" && a.Type != "decompress" && (a.Format != "" || a.MaxEntries != 0 || a.MaxSizeMB != 0 || a.MaxRatio != 0) {
		return Errorf(EINVALID, "%s: format, max_entries, max_size_mb and max_ratio are for compress and decompress", field)
	}
	return nil
}

// httpHeaderName is a header name as RFC 9110 allows it.
var httpHeaderName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")

func (a *Action) validateHTTP(field string) error {
	if a.Method == "" {
		a.Method = "POST"
	}
	a.Method = strings.ToUpper(a.Method)
	u, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(a.URL))
	switch {
	case !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, a.Method):
		return Errorf(EINVALID, "%s.method must be GET, POST, PUT, PATCH or DELETE", field)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return Errorf(EINVALID, "%s.url must be an http or https URL (placeholders allowed in its path and query)", field)
	case a.BodyFrom != "" && a.BodyFrom != "file" && a.BodyFrom != "multipart":
		return Errorf(EINVALID, "%s.body_from must be \"file\", \"multipart\" or left out (the body template)", field)
	case a.BodyFrom == "file" && a.Body != "":
		return Errorf(EINVALID, "%s: a body template and body_from \"file\" exclude each other", field)
	case len(a.Headers) > 50 || len(a.Body) > 64<<10:
		return Errorf(EINVALID, "%s: at most 50 headers and a body template of 64 KiB", field)
	}
	for k, v := range a.Headers {
		if !httpHeaderName.MatchString(k) || strings.ContainsAny(v, "\r\n\x00") || len(v) > 8<<10 {
			return Errorf(EINVALID, "%s.headers: %q is not a header name and value Depot sends", field, k)
		}
	}
	for _, st := range a.Expect {
		if st < 100 || st > 599 {
			return Errorf(EINVALID, "%s.expect_status: %d is not an HTTP status", field, st)
		}
	}
	if a.Timeout != "" {
		if d, err := time.ParseDuration(a.Timeout); err != nil || d < time.Second || d > 10*time.Minute {
			return Errorf(EINVALID, "%s.timeout must be a duration from 1s to 10m, such as \"30s\"", field)
		}
	}
	return nil
}

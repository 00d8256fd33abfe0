package mft

import (
	"context"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// User roles.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// Protocols a user may be allowed to use.
const (
	ProtocolSFTP = "sftp"
	ProtocolAPI  = "api"
	ProtocolWeb  = "web"
	// ProtocolFTP is FTPS (and plain FTP where an administrator allows
	// it); ProtocolWebDAV is WebDAV at /dav/. Neither is given unless
	// named: a user who names no protocols gets DefaultProtocols.
	ProtocolFTP    = "ftp"
	ProtocolWebDAV = "webdav"
)

// DefaultProtocols are what a user who names none may use.
var DefaultProtocols = []string{ProtocolSFTP, ProtocolAPI, ProtocolWeb}

// Protocols are every protocol a user may be allowed.
var Protocols = []string{ProtocolSFTP, ProtocolAPI, ProtocolWeb, ProtocolFTP, ProtocolWebDAV}

// Limits on user fields, so that no single record grows without bound.
const (
	MaxSSHKeys    = 100
	MaxAllowedIPs = 100
	MaxGroups     = 100
	maxNameLen    = 256
)

// User is a person or system that logs in over the API, SFTP or the web.
// PasswordHash and APIKeyHash are stored but never sent to a client.
type User struct {
	ID           string     `json:"id"`
	Email        string     `json:"email,omitempty"`
	Username     string     `json:"username,omitempty"`
	Name         string     `json:"name,omitempty"`
	Role         string     `json:"role"`
	Groups       []string   `json:"groups"`
	Bucket       string     `json:"bucket,omitempty"`
	Home         string     `json:"home"`
	PasswordHash string     `json:"password_hash,omitempty"`
	APIKeyHash   string     `json:"api_key_hash,omitempty"`
	SSHKeys      []string   `json:"ssh_keys"`
	QuotaMB      int64      `json:"quota_mb"`
	MaxFileSize  int64      `json:"max_file_size"`
	AllowedIPs   []string   `json:"allowed_ips"`
	Protocols    []string   `json:"protocols"`
	Active       bool       `json:"active"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
	LastLoginIP  string     `json:"last_login_ip,omitempty"`
	// Source is where the account's password is checked: "" (Depot) or
	// SourceLDAP (the company directory, which also keeps its email, name
	// and directory groups).
	Source string `json:"source,omitempty"`
	// TOTP is the second factor, nil without one.
	TOTP *TOTP `json:"totp,omitempty"`
	// SessionGeneration grows whenever the account's access is narrowed
	// (disabled, expiry set, role, protocols or password changed, bucket
	// deactivated): a web session of an older generation has ended, even
	// when the change was undone before its next request.
	SessionGeneration int64     `json:"session_generation,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// SourceLDAP marks an account made from the company directory.
const SourceLDAP = "ldap"

// UserID returns the id a user with this email or (when email is empty)
// username gets.
func UserID(email, username string) string {
	if email != "" {
		return Slug(email)
	}
	return Slug(username)
}

// HomeFor returns the default home folder of a user id.
func HomeFor(id string) string { return "/users/" + id }

// Validate reports the first problem with u as an EINVALID error.
func (u *User) Validate() error {
	if u.Email == "" && u.Username == "" {
		return Errorf(EINVALID, "email or username is required")
	}
	switch {
	case u.Source != "" && u.Source != SourceLDAP:
		return Errorf(EINVALID, "source %q is not local or ldap", u.Source)
	case u.Source == SourceLDAP && u.PasswordHash != "":
		return Errorf(EINVALID, "password: this account signs in with the company directory's password; change it there")
	}
	if u.Email != "" {
		if len(u.Email) > maxNameLen {
			return Errorf(EINVALID, "email is too long")
		}
		a, err := mail.ParseAddress(u.Email)
		if err != nil || a.Address != u.Email || a.Name != "" {
			return Errorf(EINVALID, "email %q is not a valid address", u.Email)
		}
	}
	if u.Username != "" {
		if len(u.Username) > maxNameLen || Slug(u.Username) == "" || !isPrintable(u.Username) || strings.ContainsAny(u.Username, " /\\:") {
			return Errorf(EINVALID, "username %q must have letters or digits and no spaces, slashes or colons", u.Username)
		}
	}
	if u.ID == "" {
		return Errorf(EINVALID, "id is required")
	}
	if len(u.Name) > maxNameLen || !isPrintable(u.Name) {
		return Errorf(EINVALID, "name is too long or contains control characters")
	}
	if u.Role != RoleAdmin && u.Role != RoleUser {
		return Errorf(EINVALID, "role must be %q or %q", RoleAdmin, RoleUser)
	}
	if err := ValidateStoragePath("home", u.Home); err != nil {
		return err
	}
	if u.QuotaMB < 0 || u.QuotaMB > MaxMB {
		return Errorf(EINVALID, "quota_mb must be 0 (no limit) up to %d (megabytes)", MaxMB)
	}
	if u.MaxFileSize < 0 || u.MaxFileSize > MaxMB {
		return Errorf(EINVALID, "max_file_size must be 0 (no limit) up to %d (megabytes)", MaxMB)
	}
	if len(u.Groups) > MaxGroups {
		return Errorf(EINVALID, "at most %d groups", MaxGroups)
	}
	if len(u.SSHKeys) > MaxSSHKeys {
		return Errorf(EINVALID, "at most %d ssh_keys", MaxSSHKeys)
	}
	if len(u.AllowedIPs) > MaxAllowedIPs {
		return Errorf(EINVALID, "at most %d allowed_ips", MaxAllowedIPs)
	}
	for _, s := range u.AllowedIPs {
		if _, err := ParsePrefix(s); err != nil {
			return Errorf(EINVALID, "allowed_ips: %q is not an IP address or CIDR range", s)
		}
	}
	if len(u.Protocols) == 0 {
		return Errorf(EINVALID, "protocols must name at least one of %s", strings.Join(Protocols, ", "))
	}
	for _, p := range u.Protocols {
		if !slices.Contains(Protocols, p) {
			return Errorf(EINVALID, "protocols: %q is not one of %s", p, strings.Join(Protocols, ", "))
		}
	}
	return nil
}

// Expired reports whether the account has passed its expiry time at now.
func (u *User) Expired(now time.Time) bool {
	return u.ExpiresAt != nil && !now.Before(*u.ExpiresAt)
}

// AllowsIP reports whether ip may log in as u; an empty list allows any.
func (u *User) AllowsIP(ip netip.Addr) bool {
	if len(u.AllowedIPs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, s := range u.AllowedIPs {
		if p, err := ParsePrefix(s); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// AllowsProtocol reports whether u may log in over protocol.
func (u *User) AllowsProtocol(protocol string) bool {
	return slices.Contains(u.Protocols, protocol)
}

// ParsePrefix parses a CIDR range or a single address (as a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ValidateStoragePath checks that p is an absolute, clean slash path in the
// storage tree without control characters or backslashes.
func ValidateStoragePath(field, p string) error {
	if p == "" || p[0] != '/' {
		return Errorf(EINVALID, "%s must be an absolute path such as /users/joe", field)
	}
	if len(p) > 4096 || !isPrintable(p) || strings.Contains(p, "\\") {
		return Errorf(EINVALID, "%s contains characters that are not allowed", field)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" && p != "/" || seg == "." || seg == ".." {
			return Errorf(EINVALID, "%s must be a clean path without empty, . or .. segments", field)
		}
	}
	return nil
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// UserUpdate holds the fields a partial update changes; nil means unchanged.
type UserUpdate struct {
	Email        *string
	Username     *string
	Name         *string
	Role         *string
	Groups       *[]string
	Home         *string
	PasswordHash *string // already hashed; "" removes the password
	SSHKeys      *[]string
	QuotaMB      *int64
	MaxFileSize  *int64
	AllowedIPs   *[]string
	Protocols    *[]string
	Active       *bool
	ExpiresAt    **time.Time
	// EndSessions ends the user's web sessions (their bucket was
	// deactivated).
	EndSessions bool
}

// UserFilter narrows a list of users.
type UserFilter struct {
	Page
	Group  string
	Bucket string
}

// UserStore stores users.
type UserStore interface {
	// FindUserByID returns ENOTFOUND if the user does not exist.
	FindUserByID(ctx context.Context, id string) (*User, error)
	// FindUserByEmail returns ENOTFOUND if no user has that email (case-insensitive).
	FindUserByEmail(ctx context.Context, email string) (*User, error)
	// FindUserByUsername returns ENOTFOUND if no user has that username (case-insensitive).
	FindUserByUsername(ctx context.Context, username string) (*User, error)
	// FindUserByAPIKeyHash returns ENOTFOUND if no user has that key.
	FindUserByAPIKeyHash(ctx context.Context, hash string) (*User, error)
	// FindUsers returns one page of users ordered by id and whether more follow.
	FindUsers(ctx context.Context, filter UserFilter) ([]*User, bool, error)
	// CountUsers returns the number of users.
	CountUsers(ctx context.Context) (int, error)
	// CreateUser stores u, setting its timestamps. Returns EINVALID if it is
	// not valid, names an unknown group, or its id, email or username is taken.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser applies upd and returns the updated user. Returns ENOTFOUND,
	// or EINVALID if the result is not valid or collides with another user.
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)
	// SetUserAPIKeyHash replaces the user's API key. Returns ENOTFOUND.
	SetUserAPIKeyHash(ctx context.Context, id, hash string) error
	// RecordLogin stores the time and address of a successful login.
	RecordLogin(ctx context.Context, id, ip string) error
	TOTPStore
	// DeleteUser removes the user with its keys, permissions and
	// dropzones (with their files' records) in one transaction, and
	// returns the ids of the dropzones, whose files the caller removes.
	// Returns ENOTFOUND.
	DeleteUser(ctx context.Context, id string) (dropzones []string, err error)
}

// Apply copies the fields upd sets onto u (lists are copied, not shared):
// the one way a create or an update changes a user.
func (u *User) Apply(upd UserUpdate) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	setList := func(dst *[]string, src *[]string) {
		if src != nil {
			*dst = slices.Clone(*src)
		}
	}
	if upd.EndSessions || upd.Active != nil && !*upd.Active && u.Active ||
		upd.Role != nil && *upd.Role != u.Role || upd.PasswordHash != nil && *upd.PasswordHash != u.PasswordHash ||
		upd.Protocols != nil && !slices.Equal(*upd.Protocols, u.Protocols) ||
		upd.ExpiresAt != nil && *upd.ExpiresAt != nil && (u.ExpiresAt == nil || !(*upd.ExpiresAt).Equal(*u.ExpiresAt)) {
		u.SessionGeneration++
	}
	set(&u.Email, upd.Email)
	set(&u.Username, upd.Username)
	set(&u.Name, upd.Name)
	set(&u.Role, upd.Role)
	set(&u.Home, upd.Home)
	set(&u.PasswordHash, upd.PasswordHash)
	setList(&u.Groups, upd.Groups)
	setList(&u.SSHKeys, upd.SSHKeys)
	setList(&u.AllowedIPs, upd.AllowedIPs)
	setList(&u.Protocols, upd.Protocols)
	if upd.QuotaMB != nil {
		u.QuotaMB = *upd.QuotaMB
	}
	if upd.MaxFileSize != nil {
		u.MaxFileSize = *upd.MaxFileSize
	}
	if upd.Active != nil {
		u.Active = *upd.Active
	}
	if upd.ExpiresAt != nil {
		u.ExpiresAt = *upd.ExpiresAt
	}
}

package mft_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"depot/mft"
)

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Joe.User@Company.com": "joe-user-company-com",
		"Partner_ACME":         "partner-acme",
		"  --a--b--  ":         "a-b",
		"ÄÖÜ":                  "",
		"Sales Team 2":         "sales-team-2",
	} {
		if got := mft.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUser_Access(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	u := &mft.User{AllowedIPs: []string{"10.0.0.0/8", "192.0.2.7"}, Protocols: []string{"sftp"}}
	for ip, want := range map[string]bool{"10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false, "::ffff:10.0.0.1": true} {
		if got := u.AllowsIP(netip.MustParseAddr(ip)); got != want {
			t.Errorf("AllowsIP(%s) = %v, want %v", ip, got, want)
		}
	}
	if !u.AllowsProtocol("sftp") || u.AllowsProtocol("api") {
		t.Error("AllowsProtocol")
	}
	if u.Expired(now) {
		t.Error("no expiry counts as expired")
	}
	u.ExpiresAt = &past
	if !u.Expired(now) {
		t.Error("past expiry not expired")
	}
	u.ExpiresAt = &future
	if u.Expired(now) {
		t.Error("future expiry expired")
	}
}

func TestValidateStoragePath(t *testing.T) {
	for p, ok := range map[string]bool{
		"/": true, "/users/joe": true, "users/joe": false, "/users/../etc": false, "/users//joe": false,
		"/users/joe/": false, "/a\\b": false, "/a\x00b": false, "/a/./b": false, "": false,
	} {
		if err := mft.ValidateStoragePath("home", p); (err == nil) != ok {
			t.Errorf("ValidateStoragePath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

func TestErrorCode(t *testing.T) {
	err := mft.Errorf(mft.ENOTFOUND, "User %s not found.", "x")
	if mft.ErrorCode(err) != mft.ENOTFOUND || mft.ErrorMessage(err) != "User x not found." {
		t.Fatal(err)
	}
	if mft.ErrorCode(errPlain{}) != mft.EINTERNAL || mft.ErrorMessage(errPlain{}) != "Internal error." {
		t.Fatal("a plain error is not internal")
	}
}

type errPlain struct{}

func (errPlain) Error() string { return "disk on fire" }

// Sizes in megabytes are bounded so that bytes = MB << 20 cannot overflow.
func TestSizesInMBAreBounded(t *testing.T) {
	u := &mft.User{ID: "x", Email: "x@example.com", Role: mft.RoleUser, Home: "/users/x", QuotaMB: mft.MaxMB + 1}
	if err := u.Validate(); err == nil || !strings.Contains(err.Error(), "quota_mb") {
		t.Fatalf("user: %v", err)
	}
	f := &mft.Folder{Path: "/shared", MaxFileSize: 1 << 50}
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "max_file_size") {
		t.Fatalf("folder: %v", err)
	}
	b := &mft.Bucket{Name: "b", QuotaMB: 1 << 62}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "quota_mb") {
		t.Fatalf("bucket: %v", err)
	}
}

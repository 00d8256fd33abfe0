package mft

import "strings"

// Slug turns an email address, username or name into an identifier:
// lower case ASCII letters and digits with single dashes between runs,
// so "Joe.User@Company.com" becomes "joe-user-company-com".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return b.String()
}

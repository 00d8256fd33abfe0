package server

import (
	"errors"
	"testing"

	"depot/mft"
)

// FuzzDecodeEnvelope: any body decodes into a request or is refused with
// EMALFORMED or EINVALID and a message; nothing panics.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"user":{"email":"a@example.com","quota_mb":10}}`, `{"email":"a@example.com"}`, `{"user":null}`,
		`{"user":{"expires_at":null}}`, `{"user":{"groups":[1,2]}}`, `[]`, `null`, `{"user":{"x":1}}`, `{"a":1,"user":{}}`,
		`{"link":{"expires_at":"2030-01-01T00:00:00Z"}}`, `{"link":{"expires_at":"yesterday"}}`, "\xff", `{"user":{"quota_mb":1e400}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var u userRequest
		var l linkRequest
		for name, dst := range map[string]any{"user": &u, "link": &l} {
			err := decodeEnvelope(body, name, dst)
			if err == nil {
				continue
			}
			var e *mft.Error
			if !errors.As(err, &e) || (e.Code != mft.EMALFORMED && e.Code != mft.EINVALID) || e.Message == "" {
				t.Fatalf("%q into %s: %v", body, name, err)
			}
		}
	})
}

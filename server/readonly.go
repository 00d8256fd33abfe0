package server

import (
	"bytes"
	"encoding/json"

	"depot/mft"
)

// readOnly takes, in a request body, the fields the server owns, so that a
// client can send back an object it read with one field changed
// (read-modify-write). checkReadOnly then refuses any that changed.
type readOnly struct {
	ID        json.RawMessage `json:"id"`
	URL       json.RawMessage `json:"url"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
}

// checkReadOnly returns EINVALID naming the first read-only field sent
// with another value than current (the object as a GET shows it) has.
func checkReadOnly(sent readOnly, current any) error {
	data, err := json.Marshal(current)
	if err != nil {
		return err
	}
	var cur map[string]json.RawMessage
	if err := json.Unmarshal(data, &cur); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"id", sent.ID}, {"url", sent.URL}, {"created_at", sent.CreatedAt}, {"updated_at", sent.UpdatedAt}} {
		if f.v == nil {
			continue
		}
		switch was, ok := cur[f.name]; {
		case !ok:
			return mft.Errorf(mft.EINVALID, "%s is set by the server: leave it out", f.name)
		case !jsonEqual(f.v, was):
			return mft.Errorf(mft.EINVALID, "%s is read-only (it is %s): leave it out, or send it unchanged", f.name, was)
		}
	}
	return nil
}

// jsonEqual reports whether two JSON values are the same value.
func jsonEqual(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}

package server

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// Read-modify-write: a client may send back an object it read with one
// field changed. The fields a view shows but a request does not take (id,
// url, times, has_password, usage numbers, …) are the server's: sent with
// the value they have they are ignored, sent with another they are a 422
// naming the field. Unknown fields stay a 422 naming the field.

// decodeCreate decodes a create body into dst, refusing the fields of the
// view (an example value of the answer's type) that only the server sets.
func (s *Server) decodeCreate(c echo.Context, name string, dst, view any) error {
	return s.decodeChange(c, name, dst, view, nil, creating)
}

// decodeUpdate decodes an update body into dst against current (the
// object as a GET shows it); fixed names fields that dst takes on create
// but that cannot change afterwards.
func (s *Server) decodeUpdate(c echo.Context, name string, dst, current any, fixed ...string) error {
	return s.decodeChange(c, name, dst, current, fixed, updating)
}

// change is how a body relates to the object it changes.
type change int

const (
	creating change = iota // no object yet
	updating               // the fields sent change
	merging                // the fields sent are laid over the object
)

func (s *Server) decodeChange(c echo.Context, name string, dst, view any, fixed []string, how change) error {
	data, err := s.readBody(c)
	if err != nil {
		return err
	}
	sent, err := objectFields(data, name)
	if err != nil {
		return err
	}
	cur, err := fieldsOf(view)
	if err != nil {
		return err
	}
	if how == merging {
		for k, v := range cur {
			if _, ok := sent[k]; !ok {
				sent[k] = v
			}
		}
	}
	takes := jsonNames(reflect.TypeOf(dst))
	for _, f := range fixed {
		delete(takes, f)
	}
	shown := jsonNames(reflect.TypeOf(view))
	for k, v := range sent {
		if takes[k] || !shown[k] {
			continue // the request's own, or unknown: the decoder says which
		}
		if how == creating {
			return mft.Errorf(mft.EINVALID, "%s is set by the server: leave it out", k)
		}
		was, ok := cur[k]
		if ok && !jsonEqual(v, was) || !ok && !jsonZero(v) {
			if !ok {
				was = json.RawMessage(`""`)
			}
			return mft.Errorf(mft.EINVALID, "%s is read-only (it is %s): leave it out, or send it unchanged", k, was)
		}
		delete(sent, k)
	}
	kept, err := json.Marshal(sent)
	if err != nil {
		return err
	}
	if err := decodeEnvelope(kept, name, dst); err != nil {
		return err
	}
	c.Set(ctxBody, decodedBody{kept, name})
	return nil
}

// objectFields returns the fields of a JSON object sent wrapped in its
// resource name or bare.
func objectFields(data []byte, name string) (map[string]json.RawMessage, error) {
	obj, err := unwrap(data, name)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(obj, &fields) != nil || fields == nil {
		return nil, mft.Errorf(mft.EMALFORMED, "Request body must be a JSON object.")
	}
	return fields, nil
}

// fieldsOf is v as a JSON object's fields.
func fieldsOf(v any) (map[string]json.RawMessage, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	return fields, json.Unmarshal(data, &fields)
}

// jsonNames returns the JSON field names of a struct type (through
// pointers and embedded structs).
func jsonNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	names := map[string]bool{}
	if t.Kind() == reflect.Struct {
		for n := range structFields(t) {
			names[n] = true
		}
	}
	return names
}

// jsonEqual reports whether two JSON values are the same value.
func jsonEqual(a, b json.RawMessage) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
	}
	return reflect.DeepEqual(va, vb)
}

// jsonZero reports whether a JSON value is what an omitted field stands
// for: null, "", 0, false or an empty array or object.
func jsonZero(v json.RawMessage) bool {
	var x any
	if json.Unmarshal(v, &x) != nil {
		return false
	}
	switch x := x.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case float64:
		return x == 0
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/files"
	"depot/mft"
)

// decode reads a JSON body of at most MaxJSONBytes into dst. The body may be
// wrapped in its resource name ({"user":{…}}) or bare. Unknown fields and
// wrong types are EINVALID naming the field; broken JSON is EMALFORMED.
func (s *Server) decode(c echo.Context, name string, dst any) error {
	data, err := s.readBody(c)
	if err != nil {
		return err
	}
	if err := decodeEnvelope(data, name, dst); err != nil {
		return err
	}
	// Kept for the audit record of a change, which reads its fields only
	// when one is made.
	c.Set(ctxBody, decodedBody{data, name})
	return nil
}

// readBody reads a request body of at most MaxJSONBytes that must arrive
// within JSONBodyTimeout.
func (s *Server) readBody(c echo.Context) ([]byte, error) {
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Now().Add(s.JSONBodyTimeout))
	data, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, s.MaxJSONBytes))
	_ = rc.SetReadDeadline(time.Time{})
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, mft.Errorf(mft.ETOOLARGE, "Request body is larger than %d bytes.", s.MaxJSONBytes)
	} else if err != nil {
		closeAfter(c)
		return nil, mft.Errorf(mft.EMALFORMED, "Could not read the request body (it must arrive within %s).", s.JSONBodyTimeout)
	}
	return data, nil
}

// decodedBody is a JSON body decode accepted, and its resource name.
type decodedBody struct {
	data []byte
	name string
}

// requestFields returns the fields of a decoded body's object (wrapped or
// bare), for the audit record of a change.
func requestFields(data []byte, name string) map[string]any {
	var outer map[string]json.RawMessage
	if json.Unmarshal(data, &outer) != nil {
		return nil
	}
	if inner, ok := outer[name]; ok && len(outer) == 1 {
		data = inner
	}
	var fields map[string]any
	json.Unmarshal(data, &fields)
	return fields
}

// decodeEnvelope decodes a JSON object, wrapped in its resource name or
// bare, into dst; errors are EMALFORMED or EINVALID naming the field.
func decodeEnvelope(data []byte, name string, dst any) error {
	data, err := unwrap(data, name)
	if err != nil {
		return err
	}
	if err := checkFields(data, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return jsonFieldError(dec.Decode(dst))
}

// unwrap returns the object of a body sent wrapped in its resource name
// ({"user":{…}}) or bare, as JSON; errors are EMALFORMED.
func unwrap(data []byte, name string) ([]byte, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, mft.Errorf(mft.EMALFORMED, "Request body is empty; send a JSON object such as {%q:{…}}.", name)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(data, &outer); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, mft.Errorf(mft.EMALFORMED, "Request body must be a JSON object.")
		}
		return nil, mft.Errorf(mft.EMALFORMED, "Malformed JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
	}
	if inner, ok := outer[name]; ok && len(outer) == 1 {
		if t := bytes.TrimSpace(inner); len(t) == 0 || t[0] != '{' {
			return nil, mft.Errorf(mft.EMALFORMED, "%q must be a JSON object.", name)
		}
		return inner, nil
	}
	return data, nil
}

// jsonFieldError turns a decoding error into a client-facing mft error.
func jsonFieldError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return mft.Errorf(mft.EMALFORMED, "Request body must be a JSON object.")
		}
		return mft.Errorf(mft.EINVALID, "Field %q must be %s, not %s.", typeErr.Field, jsonTypeName(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &timeErr):
		return mft.Errorf(mft.EINVALID, "Times must be RFC 3339, such as 2026-12-31T23:59:59Z.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return mft.Errorf(mft.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	var fieldErr *mft.Error
	if errors.As(err, &fieldErr) {
		return fieldErr
	}
	return mft.Errorf(mft.EMALFORMED, "Malformed JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonTypeName(goType string) string {
	switch {
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.Contains(goType, "[]"):
		return "an array"
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "Time"):
		return "an RFC 3339 time"
	}
	return "a " + goType
}

// optTime is a JSON time that tells "absent" (Set false) from null (Set
// true, Time nil), so a PUT can clear a time.
type optTime struct {
	Set  bool
	Time *time.Time
}

// acceptsNull marks null as a value of its own: "never", or clear.
func (optTime) acceptsNull() {}

// UnmarshalJSON accepts null or an RFC 3339 string.
func (o *optTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Time = nil
		return nil
	}
	var t time.Time
	if err := json.Unmarshal(b, &t); err != nil {
		return mft.Errorf(mft.EINVALID, "Times must be RFC 3339, such as 2026-12-31T23:59:59Z.")
	}
	t = t.UTC()
	o.Time = &t
	return nil
}

// page reads ?limit=&after= (limit 1–1000, default 100).
func page(c echo.Context) (mft.Page, error) {
	p := mft.Page{After: c.QueryParam("after")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > mft.MaxLimit {
			return p, mft.Errorf(mft.EMALFORMED, "limit must be a whole number from 1 to %d.", mft.MaxLimit)
		}
		p.Limit = n
	}
	return p.Normalize(), nil
}

// writeList answers a list as [{name:{…}}, …] and, when more follow, a
// Link header to the next page.
func writeList[T any](s *Server, c echo.Context, name string, items []T, p mft.Page, more bool, lastID string) error {
	s.nextLink(c, p, more, lastID)
	out := make([]map[string]T, len(items))
	for i, it := range items {
		out[i] = map[string]T{name: it}
	}
	return c.JSON(http.StatusOK, out)
}

// nextLink announces the next page in a Link header when more follow.
func (s *Server) nextLink(c echo.Context, p mft.Page, more bool, lastID string) {
	if !more {
		return
	}
	q := c.Request().URL.Query()
	q.Set("limit", strconv.Itoa(p.Limit))
	q.Set("after", lastID)
	next := s.PublicURL + c.Request().URL.Path + "?" + q.Encode()
	c.Response().Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next))
}

// writeOne answers one object wrapped in its resource name.
func writeOne(c echo.Context, status int, name string, v any) error {
	return c.JSON(status, map[string]any{name: v})
}

// pathParam returns the unescaped path parameter.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// from is who is on the other end of an anonymous exchange (the filedrop
// page, a shared link, a dropzone URL): the protocol and the address.
func from(c echo.Context, protocol string) files.Actor {
	return files.Actor{Protocol: protocol, IP: clientIP(c).String()}
}

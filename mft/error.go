// Package mft holds Depot's domain: entity types, their validation, error
// codes, event names and the service interfaces the other packages implement.
// It imports only the standard library.
package mft

import (
	"errors"
	"fmt"
)

// Error codes shared by every layer. The HTTP server maps each to one status.
const (
	EMALFORMED    = "malformed"    // the request cannot be parsed (400)
	EUNAUTHORIZED = "unauthorized" // missing or invalid credentials (401)
	EFORBIDDEN    = "forbidden"    // authenticated but not permitted (403)
	ENOTFOUND     = "not_found"    // the entity does not exist (404)
	ECONFLICT     = "conflict"     // the target exists and overwrite is off (409)
	EEXPIRED      = "expired"      // the entity has expired (410)
	ETOOLARGE     = "too_large"    // a size limit was exceeded (413)
	EINVALID      = "invalid"      // validation failed (422)
	ERATELIMIT    = "rate_limited" // too many requests (429)
	EUNAVAILABLE  = "unavailable"  // over capacity (503)
	EQUOTA        = "quota"        // the quota is exhausted (507)
	EINTERNAL     = "internal"     // anything unexpected (500)
)

// Error is an error with a code from the list above and a message that is
// safe to show to the client.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("depot error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, otherwise
// EINTERNAL. A nil error has no code.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err, or "Internal error."
// when err is not an *Error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// KeepError asks an update function's caller to store the change anyway
// and then return Err (a wrong validation code still counts as a try).
type KeepError struct{ Err error }

func (e *KeepError) Error() string { return e.Err.Error() }

// Keep wraps err in a KeepError.
func Keep(err error) error { return &KeepError{Err: err} }

// SecretMarker stands for a secret that is set, wherever one is shown
// (never the value); a client that sends it back keeps the secret.
const SecretMarker = "(set)"

// httpStatuses are the HTTP statuses of the codes (in their comments).
var httpStatuses = map[string]int{
	EMALFORMED: 400, EUNAUTHORIZED: 401, EFORBIDDEN: 403, ENOTFOUND: 404, ECONFLICT: 409, EEXPIRED: 410,
	ETOOLARGE: 413, EINVALID: 422, ERATELIMIT: 429, EUNAVAILABLE: 503, EQUOTA: 507,
}

// HTTPStatus is the HTTP status of err's code, and false for an error
// that is not an *Error (which HTTP protocols answer 500).
func HTTPStatus(err error) (int, bool) {
	var e *Error
	if !errors.As(err, &e) {
		return 500, false
	}
	status, ok := httpStatuses[e.Code]
	if !ok {
		return 500, false
	}
	return status, true
}

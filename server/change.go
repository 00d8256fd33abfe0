package server

import (
	"context"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// ctxBody holds the JSON body the request's handler decoded, for the audit
// record of an administrative change.
const ctxBody = "request_body"

// secretFields are recorded as "(set)" (or "" when cleared), never with
// their values.
var secretFields = []string{"password", "secret", "private_key", "passphrase", "api_key", "token", "secret_key", "account_key", "sas_token", "connection_string", "credentials_json"}

// recordChange publishes an administrative change: who made it, from
// where, what it changed (target, an id) and the fields the request sent
// with their new values, secrets hidden.
func (s *Server) recordChange(c echo.Context, event, target string) {
	if s.Events != nil {
		s.Events.Publish(mft.ChangeEvent(s.changeContext(c), event, target, s.Now()))
	}
}

// changeContext is the request's context carrying the origin of the
// change it asks for, for the service that makes it.
func (s *Server) changeContext(c echo.Context) context.Context {
	o := mft.Origin{Protocol: mft.AuditAPI, IP: clientIP(c).String()}
	if viaWeb(c) {
		o.Protocol = mft.AuditWeb
	}
	if b, ok := c.Get(ctxBody).(decodedBody); ok {
		o.Changes = maskSecrets(requestFields(b.data, b.name))
	}
	if u := caller(c); u != nil {
		o.Actor, o.Bucket = u.ID, u.Bucket
	}
	return mft.WithOrigin(c.Request().Context(), o)
}

// maskSecrets copies fields with every secret, at any depth, replaced by
// "(set)" and the password of a URL's user:pass@ hidden.
func maskSecrets(fields map[string]any) map[string]any {
	if len(fields) == 0 {
		return nil
	}
	out := make(map[string]any, len(fields))
	for k, v := range fields {
		switch {
		case slices.Contains(secretFields, strings.ToLower(k)):
			if s, ok := v.(string); ok && s == "" || v == nil {
				out[k] = ""
			} else {
				out[k] = "(set)"
			}
		case k == "url":
			if s, ok := v.(string); ok {
				v = mft.HiddenURL(s)
			}
			out[k] = v
		default:
			out[k] = maskValue(v)
		}
	}
	return out
}

func maskValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return maskSecrets(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = maskValue(e)
		}
		return out
	}
	return v
}

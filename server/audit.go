package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// auditColumns are the CSV columns, in order.
var auditColumns = []string{"id", "time", "event", "actor", "bucket", "protocol", "ip", "path", "new_path", "size", "sha256", "status", "message", "target", "changes"}

// handleAudit lists audit events, oldest first, filtered by
// from/to (RFC 3339), event, user, bucket, path (prefix), protocol and
// status; format=csv streams CSV with a header row.
func (s *Server) handleAudit(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	actor := c.QueryParam("actor") // or user, its older name
	if actor == "" {
		actor = c.QueryParam("user")
	}
	f := mft.AuditFilter{Page: p, Event: c.QueryParam("event"), Actor: actor,
		Bucket: c.QueryParam("bucket"), PathPrefix: auditPath(c.QueryParam("path")),
		Protocol: c.QueryParam("protocol"), Status: c.QueryParam("status")}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return mft.Errorf(mft.EMALFORMED, "%s must be an RFC 3339 time such as 2026-11-22T00:00:00Z.", name)
			}
			*dst = t
		}
	}
	format := c.QueryParam("format")
	if format != "" && format != "json" && format != "csv" {
		return mft.Errorf(mft.EMALFORMED, "format must be json or csv.")
	}
	events, more, err := s.Audit.FindEvents(c.Request().Context(), f)
	if err != nil {
		return err
	}
	last := ""
	if len(events) > 0 {
		last = events[len(events)-1].ID
	}
	if format != "csv" {
		return writeList(s, c, "event", events, p, more, last)
	}
	s.nextLink(c, p, more, last)
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="depot-audit.csv"`)
	c.Response().WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.Response())
	_ = w.Write(auditColumns)
	for _, ev := range events {
		_ = w.Write([]string{ev.ID, ev.Time.UTC().Format(time.RFC3339Nano), ev.Event, csvSafe(ev.Actor), ev.Bucket, ev.Protocol,
			ev.IP, csvSafe(ev.Path), csvSafe(ev.NewPath), strconv.FormatInt(ev.Size, 10), ev.SHA256, ev.Status, csvSafe(ev.Message),
			csvSafe(ev.Target), csvSafe(changesJSON(ev.Changes))})
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a spreadsheet from reading a client-chosen value (a file
// name such as "=cmd|…") as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// changesJSON writes an event's changes as one JSON object ("" for none).
func changesJSON(ch map[string]any) string {
	if len(ch) == 0 {
		return ""
	}
	b, _ := json.Marshal(ch)
	return string(b)
}

// auditPath is a path filter as the events name paths: /users/x/ finds
// what /users/x does.
func auditPath(p string) string {
	if t := strings.TrimRight(p, "/"); t != "" || p == "" {
		return t
	}
	return "/"
}

package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
	"depot/web"
)

// adminAuditRows is how many audit events a page of the overview shows.
const adminAuditRows = 50

// handleWebAdmin is the administrators' read-only overview: health, live
// SFTP sessions, the newest audit events (filtered, with their CSV) and
// the bans.
func (s *Server) handleWebAdmin(c echo.Context) error {
	if caller(c).Role != mft.RoleAdmin {
		return s.renderError(c, mft.Errorf(mft.EFORBIDDEN, "The overview is for administrators."))
	}
	ctx := c.Request().Context()
	data := web.Admin{Health: "Healthy", Healthy: true, Version: s.Version,
		Filter: web.AuditFilter{Event: c.QueryParam("event"), Actor: c.QueryParam("actor"), Status: c.QueryParam("status"), Since: c.QueryParam("since")}}
	if s.Ping != nil {
		if err := s.Ping(ctx); err != nil {
			data.Health, data.Healthy = "Unavailable: "+mft.ErrorMessage(err), false
		}
	}
	if total, free, err := s.Files.DiskSpace(); err == nil {
		data.Disk = humanSize(free) + " free of " + humanSize(total)
	}
	if s.Sessions != nil {
		for _, sess := range s.Sessions.Sessions() {
			data.Sessions = append(data.Sessions, web.AdminSession{ID: sess.ID, User: sess.User, IP: sess.IP,
				Started: sess.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), Transfers: strconv.Itoa(len(sess.Transfers))})
		}
	}
	f := mft.AuditFilter{Page: mft.Page{Limit: adminAuditRows, After: c.QueryParam("after")}, Event: data.Filter.Event, Actor: data.Filter.Actor, Newest: true}
	switch data.Filter.Status {
	case mft.StatusOK, mft.StatusDenied, mft.StatusError:
		f.Status = data.Filter.Status
	default:
		data.Filter.Status = ""
	}
	csv := url.Values{"format": {"csv"}, "limit": {strconv.Itoa(mft.MaxLimit)}}
	switch data.Filter.Since {
	case "1h", "24h", "168h":
		d, _ := time.ParseDuration(data.Filter.Since)
		f.From = s.Now().Add(-d).UTC().Truncate(time.Second)
		csv.Set("from", f.From.Format(time.RFC3339))
	case "all":
	default:
		data.Filter.Since = "24h"
		f.From = s.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second)
		csv.Set("from", f.From.Format(time.RFC3339))
	}
	for k, v := range map[string]string{"event": f.Event, "actor": f.Actor, "status": f.Status} {
		if v != "" {
			csv.Set(k, v)
		}
	}
	data.CSV = "/admin/audit?" + csv.Encode()
	events, more, err := s.Audit.FindEvents(ctx, f)
	if err != nil {
		return s.renderError(c, err)
	}
	for _, ev := range events {
		data.Audit = append(data.Audit, auditRow(ev))
	}
	page := url.Values{}
	for k, v := range map[string]string{"event": data.Filter.Event, "actor": data.Filter.Actor, "status": data.Filter.Status, "since": data.Filter.Since} {
		if v != "" {
			page.Set(k, v)
		}
	}
	if f.After != "" {
		data.Newest = "/web/admin?" + page.Encode()
	}
	if more && len(events) > 0 {
		page.Set("after", events[len(events)-1].ID)
		data.Older = "/web/admin?" + page.Encode()
	}
	var bans []auth.Ban
	if s.Defender != nil {
		bans = s.Defender.Bans()
	}
	for _, b := range bans {
		data.Bans = append(data.Bans, web.BanRow{IP: b.IP, Until: b.Until.UTC().Format("2006-01-02 15:04:05 UTC"), Reason: strconv.Itoa(b.Failures) + " failed logins"})
	}
	if s.Engine != nil && s.Engine.Expectations != nil {
		list, _, err := s.Engine.Expectations.FindExpectations(ctx, mft.Page{Limit: mft.MaxLimit})
		if err != nil {
			return s.renderError(c, err)
		}
		for _, x := range list {
			row := web.ExpectedRow{Name: x.Name, Where: x.Path + "/" + x.Pattern, Window: strings.Join(x.Days, " ") + " " + x.From + "–" + x.To,
				Last: "none yet", Rate: "—"}
			if x.Timezone != "" {
				row.Window += " " + x.Timezone
			}
			if len(x.History) > 0 {
				w := x.History[0]
				row.Last = w.Start.Format("2006-01-02") + ": " + strings.ReplaceAll(w.Status, "_", " ")
				row.Rate = strconv.Itoa(int(x.OnTimeRate()*100+0.5)) + " %"
			}
			data.Expected = append(data.Expected, row)
		}
	}
	return s.render(c, http.StatusOK, "admin", web.Page{Title: "Overview", Nav: "admin", Data: data})
}

// auditRow is an event as the overview's table shows it: a short time
// with its zone, and in the details the path (where a rename went) or,
// for a login, how.
func auditRow(ev *mft.Event) web.AuditRow {
	r := web.AuditRow{Time: ev.Time.UTC().Format("2006-01-02 15:04 UTC"), ISO: ev.Time.UTC().Format(time.RFC3339), Event: ev.Event,
		Actor: ev.Actor, Protocol: ev.Protocol, IP: ev.IP, Status: ev.Status, Detail: ev.Path, Message: ev.Message}
	switch {
	case ev.Event == mft.EventUserLogin:
		r.Detail, r.Message = "signed in with "+ev.Message, ""
	case ev.NewPath != "":
		r.Detail = ev.Path + " → " + ev.NewPath
	case ev.Path == "" && ev.Target != "":
		r.Detail = ev.Target
	}
	return r
}

package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// AutomationEngine queues runs and deliveries and reloads after changes;
// automation.Engine implements it.
type AutomationEngine interface {
	Reload(ctx context.Context) error
	RunNow(ctx context.Context, a *mft.Automation, path string) (*mft.Run, error)
	Redeliver(ctx context.Context, d *mft.Delivery) error
}

// automationView hides the secrets of actions: they are write-only.
func automationView(a *mft.Automation) *mft.Automation {
	v := *a
	v.TriggerTokenHash = ""
	v.Actions = make([]mft.Action, len(a.Actions))
	for i, act := range a.Actions {
		act.Secret, act.PrivateKey, act.Passphrase = hidden(act.Secret), hidden(act.PrivateKey), hidden(act.Passphrase)
		act.URL = hiddenURL(act.URL)
		v.Actions[i] = act
	}
	return &v
}

// hidden shows that a secret is set without showing it.
func hidden(v string) string {
	if v == "" {
		return ""
	}
	return mft.SecretMarker
}

// hiddenURL shows a URL with the password of its user:pass@ replaced by
// "(set)", like other secrets.
func hiddenURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.User(u.User.Username())
	user := u.User.String()
	return strings.Replace(u.String(), "://"+user+"@", "://"+user+":(set)@", 1)
}

// keepURLSecret gives a URL sent back with the "(set)" password the
// password of the URL it replaces.
func keepURLSecret(raw, prev string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if pw, ok := u.User.Password(); !ok || pw != mft.SecretMarker {
		return raw
	}
	p, err := url.Parse(prev)
	if err != nil || p.User == nil {
		return raw
	}
	if old, ok := p.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), old)
	}
	return u.String()
}

// automationRequest is the body of POST and PUT: an automation without
// the fields the server owns.
type automationRequest struct {
	Name       string          `json:"name"`
	Enabled    *bool           `json:"enabled"`
	Trigger    string          `json:"trigger"`
	Events     []string        `json:"events"`
	Schedule   string          `json:"schedule"`
	Timezone   string          `json:"timezone"`
	Source     *mft.Source     `json:"source"`
	Conditions []mft.Condition `json:"conditions"`
	Actions    []mft.Action    `json:"actions"`
	Retry      mft.Retry       `json:"retry"`
}

// build validates the request into a, sealing secrets; old gives the
// secrets an update leaves as "(set)".
func (s *Server) buildAutomation(req *automationRequest, a, old *mft.Automation) error {
	a.Name, a.Trigger, a.Events, a.Schedule, a.Timezone = req.Name, req.Trigger, req.Events, req.Schedule, req.Timezone
	a.Source, a.Conditions, a.Actions, a.Retry = req.Source, req.Conditions, req.Actions, req.Retry
	a.Enabled = req.Enabled == nil || *req.Enabled
	if err := a.Validate(s.CheckSchedule); err != nil {
		return err
	}
	for i := range a.Actions {
		act := &a.Actions[i]
		var prev mft.Action
		if old != nil && i < len(old.Actions) {
			prev = old.Actions[i]
		}
		act.Secret = s.keepOrSeal(act.Secret, prev.Secret)
		act.PrivateKey = s.keepOrSeal(act.PrivateKey, prev.PrivateKey)
		act.Passphrase = s.keepOrSeal(act.Passphrase, prev.Passphrase)
		act.URL = keepURLSecret(act.URL, prev.URL)
	}
	return nil
}

// keepOrSeal seals a new secret, or keeps the stored one for "(set)".
func (s *Server) keepOrSeal(v, prev string) string {
	if v == mft.SecretMarker {
		return prev
	}
	if s.Sealer != nil {
		return s.Sealer.Seal(v)
	}
	return v
}

func (s *Server) handleAutomationList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Automations.FindAutomations(c.Request().Context(), p)
	if err != nil {
		return err
	}
	views := make([]*mft.Automation, len(list))
	last := ""
	for i, a := range list {
		views[i], last = automationView(a), a.ID
	}
	return writeList(s, c, "automation", views, p, more, last)
}

func (s *Server) handleAutomationCreate(c echo.Context) error {
	var req automationRequest
	if err := s.decodeCreate(c, "automation", &req, automationView(&mft.Automation{})); err != nil {
		return err
	}
	a := &mft.Automation{}
	if err := s.buildAutomation(&req, a, nil); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.Automations.CreateAutomation(ctx, a); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventAutomationCreated, a.ID)
	return writeOne(c, http.StatusCreated, "automation", automationView(a))
}

func (s *Server) handleAutomationView(c echo.Context) error {
	a, err := s.Automations.FindAutomation(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "automation", automationView(a))
}

// handleAutomationUpdate replaces an automation's definition (send it
// whole; secrets shown as "(set)" keep their value).
func (s *Server) handleAutomationUpdate(c echo.Context) error {
	return s.changeAutomation(c, updating)
}

// handleAutomationPatch changes the fields sent and keeps the others.
func (s *Server) handleAutomationPatch(c echo.Context) error {
	return s.changeAutomation(c, merging)
}

func (s *Server) changeAutomation(c echo.Context, how change) error {
	ctx := c.Request().Context()
	old, err := s.Automations.FindAutomation(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req automationRequest
	if err := s.decodeChange(c, "automation", &req, automationView(old), nil, how); err != nil {
		return err
	}
	a := &mft.Automation{ID: old.ID, CreatedAt: old.CreatedAt, TriggerTokenHash: old.TriggerTokenHash}
	if err := s.buildAutomation(&req, a, old); err != nil {
		return err
	}
	a.UpdatedAt = s.Now().UTC()
	if err := s.Automations.PutAutomation(ctx, a); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventAutomationUpdated, a.ID)
	return writeOne(c, http.StatusOK, "automation", automationView(a))
}

func (s *Server) handleAutomationDelete(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.Automations.DeleteAutomation(ctx, pathParam(c, "id")); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventAutomationDeleted, pathParam(c, "id"))
	return c.NoContent(http.StatusOK)
}

// handleAutomationRun queues a run now, whatever the trigger.
func (s *Server) handleAutomationRun(c echo.Context) error {
	ctx := c.Request().Context()
	a, err := s.Automations.FindAutomation(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	return s.runAutomation(c, a)
}

// runAutomation queues a run of a, on the file named by the optional body
// {"path": "/users/…"}, and answers 202 with it.
func (s *Server) runAutomation(c echo.Context, a *mft.Automation) error {
	var req struct {
		Path string `json:"path" depot:"path"`
	}
	if c.Request().ContentLength != 0 {
		if err := s.decode(c, "run", &req); err != nil {
			return err
		}
	}
	r, err := s.Engine.RunNow(c.Request().Context(), a, req.Path)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusAccepted, "run", newRunView(r))
}

func (s *Server) handleRunList(c echo.Context) error {
	ctx := c.Request().Context()
	id := pathParam(c, "id")
	if _, err := s.Automations.FindAutomation(ctx, id); err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Automations.FindRuns(ctx, id, p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "run", viewsOf(list, newRunView), p, more, last)
}

func (s *Server) handleRunView(c echo.Context) error {
	r, err := s.Automations.FindRun(c.Request().Context(), pathParam(c, "run"))
	if err != nil || r.Automation != pathParam(c, "id") {
		return mft.Errorf(mft.ENOTFOUND, "Run not found.")
	}
	return writeOne(c, http.StatusOK, "run", newRunView(r))
}

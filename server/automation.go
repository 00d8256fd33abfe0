package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
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

func (s *Server) automationRoutes(admin *echo.Group) {
	admin.GET("/automations", s.handleAutomationList)
	admin.POST("/automations", s.handleAutomationCreate)
	admin.GET("/automations/:id", s.handleAutomationView)
	admin.PUT("/automations/:id", s.handleAutomationUpdate)
	admin.DELETE("/automations/:id", s.handleAutomationDelete)
	admin.POST("/automations/:id/run", s.handleAutomationRun)
	admin.POST("/automations/:id/trigger_token", s.handleTriggerToken)
	admin.DELETE("/automations/:id/trigger_token", s.handleTriggerTokenDelete)
	admin.GET("/automations/:id/runs", s.handleRunList)
	admin.GET("/automations/:id/runs/:run", s.handleRunView)

	admin.GET("/webhooks", s.handleWebhookList)
	admin.POST("/webhooks", s.handleWebhookCreate)
	admin.GET("/webhooks/:id", s.handleWebhookView)
	admin.PUT("/webhooks/:id", s.handleWebhookUpdate)
	admin.PATCH("/webhooks/:id", s.handleWebhookUpdate)
	admin.DELETE("/webhooks/:id", s.handleWebhookDelete)
	admin.GET("/webhooks/:id/deliveries", s.handleDeliveryList)
	admin.POST("/webhooks/:id/deliveries/:delivery/redeliver", s.handleRedeliver)
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
	return "(set)"
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
	if pw, ok := u.User.Password(); !ok || pw != "(set)" {
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
	if v == "(set)" {
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
	if err := s.decode(c, "automation", &req); err != nil {
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
	ctx := c.Request().Context()
	old, err := s.Automations.FindAutomation(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req automationRequest
	if err := s.decode(c, "automation", &req); err != nil {
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
		Path string `json:"path"`
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
	return writeOne(c, http.StatusAccepted, "run", r)
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
	return writeList(s, c, "run", list, p, more, last)
}

func (s *Server) handleRunView(c echo.Context) error {
	r, err := s.Automations.FindRun(c.Request().Context(), pathParam(c, "run"))
	if err != nil || r.Automation != pathParam(c, "id") {
		return mft.Errorf(mft.ENOTFOUND, "Run not found.")
	}
	return writeOne(c, http.StatusOK, "run", r)
}

type webhookRequest struct {
	URL    *string   `json:"url"`
	Events *[]string `json:"events"`
	Paths  *[]string `json:"paths"`
	Bucket *string   `json:"bucket"`
	Secret *string   `json:"secret"`
	Active *bool     `json:"active"`
}

type webhookView struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Paths     []string `json:"paths"`
	Bucket    string   `json:"bucket"`
	HasSecret bool     `json:"has_secret"`
	Active    bool     `json:"active"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
}

func newWebhookView(w *mft.Webhook) webhookView {
	return webhookView{ID: w.ID, URL: hiddenURL(w.URL), Events: w.Events, Paths: w.Paths, Bucket: w.Bucket, HasSecret: w.Secret != "",
		Active: w.Active, CreatedAt: w.CreatedAt.Format(timeFormat), UpdatedAt: w.UpdatedAt.Format(timeFormat)}
}

// applyWebhook copies the set fields onto w and checks the result.
func (s *Server) applyWebhook(req *webhookRequest, w *mft.Webhook) error {
	if req.URL != nil {
		w.URL = keepURLSecret(*req.URL, w.URL)
	}
	if req.Events != nil {
		w.Events = *req.Events
	}
	if req.Paths != nil {
		w.Paths = *req.Paths
	}
	if req.Bucket != nil {
		w.Bucket = *req.Bucket
	}
	if req.Active != nil {
		w.Active = *req.Active
	}
	if req.Secret != nil {
		if *req.Secret != "" && len(*req.Secret) < 16 {
			return mft.Errorf(mft.EINVALID, "secret must be at least 16 characters (or \"\" for none)")
		}
		w.Secret = *req.Secret
		if s.Sealer != nil {
			w.Secret = s.Sealer.Seal(w.Secret)
		}
	}
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return mft.Errorf(mft.EINVALID, "url must be an http or https URL")
	}
	if len(w.Events) == 0 {
		return mft.Errorf(mft.EINVALID, "events must list events, or [\"*\"] for all")
	}
	for _, e := range w.Events {
		if e != "*" && !slices.Contains(mft.EventNames, e) {
			return mft.Errorf(mft.EINVALID, "events: %q is not an event; one of *, %s", e, strings.Join(mft.EventNames, ", "))
		}
	}
	if w.Paths == nil {
		w.Paths = []string{}
	}
	for _, p := range w.Paths {
		if err := mft.ValidateStoragePath("paths", p); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) handleWebhookList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Automations.FindWebhooks(c.Request().Context(), p)
	if err != nil {
		return err
	}
	views := make([]webhookView, len(list))
	last := ""
	for i, w := range list {
		views[i], last = newWebhookView(w), w.ID
	}
	return writeList(s, c, "webhook", views, p, more, last)
}

func (s *Server) handleWebhookCreate(c echo.Context) error {
	var req webhookRequest
	if err := s.decode(c, "webhook", &req); err != nil {
		return err
	}
	if req.URL == nil || req.Events == nil {
		return mft.Errorf(mft.EINVALID, "url and events are required")
	}
	w := &mft.Webhook{Active: true}
	if err := s.applyWebhook(&req, w); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.Automations.CreateWebhook(ctx, w); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventWebhookCreated, w.ID)
	return writeOne(c, http.StatusCreated, "webhook", newWebhookView(w))
}

func (s *Server) handleWebhookView(c echo.Context) error {
	w, err := s.Automations.FindWebhook(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "webhook", newWebhookView(w))
}

func (s *Server) handleWebhookUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	w, err := s.Automations.FindWebhook(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req webhookRequest
	if err := s.decode(c, "webhook", &req); err != nil {
		return err
	}
	if err := s.applyWebhook(&req, w); err != nil {
		return err
	}
	w.UpdatedAt = s.Now().UTC()
	if err := s.Automations.PutWebhook(ctx, w); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventWebhookUpdated, w.ID)
	return writeOne(c, http.StatusOK, "webhook", newWebhookView(w))
}

func (s *Server) handleWebhookDelete(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.Automations.DeleteWebhook(ctx, pathParam(c, "id")); err != nil {
		return err
	}
	if err := s.Engine.Reload(ctx); err != nil {
		return err
	}
	s.recordChange(c, mft.EventWebhookDeleted, pathParam(c, "id"))
	return c.NoContent(http.StatusOK)
}

func (s *Server) handleDeliveryList(c echo.Context) error {
	ctx := c.Request().Context()
	id := pathParam(c, "id")
	if _, err := s.Automations.FindWebhook(ctx, id); err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Automations.FindDeliveries(ctx, id, p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "delivery", list, p, more, last)
}

func (s *Server) handleRedeliver(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.Automations.FindDelivery(ctx, pathParam(c, "delivery"))
	if err != nil || d.Webhook != pathParam(c, "id") {
		return mft.Errorf(mft.ENOTFOUND, "Delivery not found.")
	}
	if err := s.Engine.Redeliver(ctx, d); err != nil {
		return err
	}
	return writeOne(c, http.StatusAccepted, "delivery", d)
}

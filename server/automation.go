package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// automationView hides the secrets of actions: they are write-only.
func automationView(a *mft.Automation) *mft.Automation {
	v := *a
	v.TriggerTokenHash = ""
	v.Actions = make([]mft.Action, len(a.Actions))
	for i, act := range a.Actions {
		act.Secret, act.PrivateKey, act.Passphrase = mft.Hidden(act.Secret), mft.Hidden(act.PrivateKey), mft.Hidden(act.Passphrase)
		act.URL = mft.HiddenURL(act.URL)
		if act.Headers != nil {
			h := make(map[string]string, len(act.Headers))
			for k, val := range act.Headers {
				if mft.SecretHeader(k) {
					val = mft.Hidden(val)
				}
				h[k] = val
			}
			act.Headers = h
		}
		v.Actions[i] = act
	}
	return &v
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
	Notify     *mft.Notify     `json:"notify"`
}

// automation is the automation the request describes.
func (req *automationRequest) automation() *mft.Automation {
	return &mft.Automation{Name: req.Name, Enabled: req.Enabled == nil || *req.Enabled, Trigger: req.Trigger, Events: req.Events,
		Schedule: req.Schedule, Timezone: req.Timezone, Source: req.Source, Conditions: req.Conditions, Actions: req.Actions, Retry: req.Retry,
		Notify: req.Notify}
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
	a := req.automation()
	if err := s.Engine.CreateAutomation(s.changeContext(c), a); err != nil {
		return err
	}
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
	a := req.automation()
	if err := s.Engine.UpdateAutomation(s.changeContext(c), old, a); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "automation", automationView(a))
}

func (s *Server) handleAutomationDelete(c echo.Context) error {
	if err := s.Engine.DeleteAutomation(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
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

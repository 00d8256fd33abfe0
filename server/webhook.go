package server

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

type webhookRequest struct {
	URL    *string   `json:"url" depot:"path"`
	Events *[]string `json:"events"`
	Paths  *[]string `json:"paths" depot:"path"`
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
	if err := s.decodeCreate(c, "webhook", &req, webhookView{}); err != nil {
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
	if err := s.decodeUpdate(c, "webhook", &req, newWebhookView(w)); err != nil {
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

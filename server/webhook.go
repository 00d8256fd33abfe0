package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/automation"
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
	return webhookView{ID: w.ID, URL: mft.HiddenURL(w.URL), Events: w.Events, Paths: w.Paths, Bucket: w.Bucket, HasSecret: w.Secret != "",
		Active: w.Active, CreatedAt: w.CreatedAt.Format(timeFormat), UpdatedAt: w.UpdatedAt.Format(timeFormat)}
}

func (req *webhookRequest) change() automation.WebhookChange {
	return automation.WebhookChange{URL: req.URL, Events: req.Events, Paths: req.Paths, Bucket: req.Bucket, Secret: req.Secret, Active: req.Active}
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
	w, err := s.Engine.CreateWebhook(s.changeContext(c), req.change())
	if err != nil {
		return err
	}
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
	if err := s.Engine.UpdateWebhook(s.changeContext(c), w, req.change()); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "webhook", newWebhookView(w))
}

func (s *Server) handleWebhookDelete(c echo.Context) error {
	if err := s.Engine.DeleteWebhook(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
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

package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// expectationRequest is the body of POST, PUT and PATCH
// /admin/expectations: absent fields are nil.
type expectationRequest struct {
	Name      *string   `json:"name"`
	Enabled   *bool     `json:"enabled"`
	Path      *string   `json:"path" depot:"path"`
	Pattern   *string   `json:"pattern"`
	Recursive *bool     `json:"recursive"`
	Days      *[]string `json:"days"`
	From      *string   `json:"from"`
	To        *string   `json:"to"`
	Timezone  *string   `json:"timezone"`
	MinCount  *int      `json:"min_count"`
	MinSize   *int64    `json:"min_size"`
}

func (r *expectationRequest) apply(x *mft.Expectation) {
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&x.Name, r.Name}, {&x.Path, r.Path}, {&x.Pattern, r.Pattern}, {&x.From, r.From}, {&x.To, r.To}, {&x.Timezone, r.Timezone}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if r.Enabled != nil {
		x.Enabled = *r.Enabled
	}
	if r.Recursive != nil {
		x.Recursive = *r.Recursive
	}
	if r.Days != nil {
		x.Days = *r.Days
	}
	if r.MinCount != nil {
		x.MinCount = *r.MinCount
	}
	if r.MinSize != nil {
		x.MinSize = *r.MinSize
	}
}

// expectationView shows an expectation with its on-time rate.
type expectationView struct {
	mft.Expectation
	OnTimeRate float64 `json:"on_time_rate"`
}

func newExpectationView(x *mft.Expectation) expectationView {
	return expectationView{Expectation: *x, OnTimeRate: x.OnTimeRate()}
}

func (s *Server) handleExpectationList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Engine.Expectations.FindExpectations(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "expectation", viewsOf(list, newExpectationView), p, more, last)
}

func (s *Server) handleExpectationCreate(c echo.Context) error {
	var req expectationRequest
	if err := s.decodeCreate(c, "expectation", &req, expectationView{}); err != nil {
		return err
	}
	x := &mft.Expectation{Enabled: true}
	req.apply(x)
	if err := s.Engine.CreateExpectation(s.changeContext(c), x); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "expectation", newExpectationView(x))
}

func (s *Server) handleExpectationView(c echo.Context) error {
	x, err := s.Engine.Expectations.FindExpectation(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "expectation", newExpectationView(x))
}

func (s *Server) handleExpectationUpdate(c echo.Context) error {
	old, err := s.Engine.Expectations.FindExpectation(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req expectationRequest
	if err := s.decodeUpdate(c, "expectation", &req, newExpectationView(old)); err != nil {
		return err
	}
	next := *old
	req.apply(&next)
	if err := s.Engine.UpdateExpectation(s.changeContext(c), old, &next); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "expectation", newExpectationView(&next))
}

func (s *Server) handleExpectationDelete(c echo.Context) error {
	if err := s.Engine.DeleteExpectation(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
	"depot/web"
)

// webMessage is a delivery as the web client shows it.
func (s *Server) webMessage(m *mft.Message) web.Message {
	v := web.Message{ID: m.ID, From: m.Sender, Subject: m.Subject, Body: m.Message, Filedrop: m.Filedrop,
		Received: m.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), Expires: m.ExpiresAt.UTC().Format(time.DateOnly)}
	for _, a := range m.Files {
		v.Files = append(v.Files, web.MessageFile{Name: a.Filename, Size: humanSize(a.Size), SHA256: a.Checksum,
			URL: "/api/messages/" + m.ID + "/files/" + a.ID})
	}
	return v
}

// handleWebMessages lists the filedrop deliveries to the user.
func (s *Server) handleWebMessages(c echo.Context) error {
	list, _, err := s.Filedrops.Messages(c.Request().Context(), caller(c), mft.Page{Limit: mft.MaxLimit})
	if err != nil {
		return s.renderError(c, err)
	}
	rows := make([]web.Message, len(list))
	for i, m := range list {
		rows[len(list)-1-i] = s.webMessage(m) // newest first
	}
	return s.render(c, http.StatusOK, "messages", web.Page{Title: "Messages", Nav: "messages", Data: rows})
}

// handleWebMessage shows one delivery and its files.
func (s *Server) handleWebMessage(c echo.Context) error {
	m, err := s.Filedrops.Message(c.Request().Context(), caller(c), pathParam(c, "id"))
	if err != nil {
		return s.renderError(c, err)
	}
	v := s.webMessage(m)
	return s.render(c, http.StatusOK, "message", web.Page{Title: "Message from " + v.From, Nav: "messages", Data: v})
}

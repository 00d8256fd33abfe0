package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

type messageView struct {
	ID         string           `json:"id"`
	Filedrop   string           `json:"filedrop"`
	Sender     string           `json:"sender"`
	Subject    string           `json:"subject"`
	Message    string           `json:"message"`
	Recipients []string         `json:"recipients"`
	Folder     string           `json:"folder"`
	Files      []attachmentView `json:"files"`
	ExpiresAt  string           `json:"expires_at"`
	CreatedAt  string           `json:"created_at"`
}

func (s *Server) newMessageView(m *mft.Message) messageView {
	v := messageView{ID: m.ID, Filedrop: m.Filedrop, Sender: m.Sender, Subject: m.Subject, Message: m.Message,
		Recipients: m.Recipients, Folder: m.Folder, ExpiresAt: m.ExpiresAt.UTC().Format(timeFormat),
		CreatedAt: m.CreatedAt.UTC().Format(timeFormat)}
	for _, a := range m.Files {
		av := newAttachmentView(a)
		av.URL = s.PublicURL + "/api/messages/" + m.ID + "/files/" + a.ID
		v.Files = append(v.Files, av)
	}
	return v
}

func (s *Server) handleMessageList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Filedrops.Messages(c.Request().Context(), caller(c), p)
	if err != nil {
		return err
	}
	views := make([]messageView, len(list))
	last := ""
	for i, m := range list {
		views[i], last = s.newMessageView(m), m.ID
	}
	return writeList(s, c, "message", views, p, more, last)
}

func (s *Server) handleMessageView(c echo.Context) error {
	m, err := s.Filedrops.Message(c.Request().Context(), caller(c), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "message", s.newMessageView(m))
}

// handleMessageDownload serves a delivered file to a recipient (or, under
// authorization 2, any local user with the message id).
func (s *Server) handleMessageDownload(c echo.Context) error {
	m, err := s.Filedrops.Message(c.Request().Context(), caller(c), pathParam(c, "id"))
	if err != nil {
		return err
	}
	f, fi, name, err := s.Filedrops.OpenFile(m, pathParam(c, "file"))
	if err != nil {
		return err
	}
	defer f.Close()
	serveDownload(c, f, name, fi.ModTime())
	return nil
}

package server

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// errorBody is the shape of every error response.
type errorBody struct {
	Errors []string `json:"errors"`
}

// errorStatus returns the status and the words a client gets for err:
// its code's, or 500 with the request id for anything unexpected, which
// is logged. A 503 says when to come back.
func (s *Server) errorStatus(c echo.Context, err error) (int, string) {
	status, ok := mft.HTTPStatus(err)
	msg := mft.ErrorMessage(err)
	if !ok {
		id, _ := c.Get(ctxRequestID).(string)
		s.Logger.Error("internal error", "err", err, "request_id", id, "path", c.Request().URL.Path)
		status, msg = http.StatusInternalServerError, "Internal error (request id "+id+")."
	}
	if status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", "30") // over capacity: say when to come back
	}
	return status, msg
}

// handleError writes err as {"errors":[…]} with the status of its code.
// Unexpected errors are logged with the request id, which the body repeats.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, ""
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status, msg = he.Code, fmt.Sprint(he.Message)
		switch status {
		case http.StatusNotFound:
			msg = "No such endpoint: " + c.Request().Method + " " + c.Request().URL.Path
		case http.StatusMethodNotAllowed:
			msg = c.Request().URL.Path + " does not take " + c.Request().Method + "; it takes " + c.Response().Header().Get(echo.HeaderAllow) + "."
		}
	} else {
		status, msg = s.errorStatus(c, err)
	}
	if status == http.StatusUnauthorized && !viaWeb(c) { // a browser would pop up its own sign-in box
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="depot", charset="UTF-8"`)
	}
	if status >= 400 {
		drainRefused(c) // an HTTP/2 client still sending then reads the answer whole
	}
	switch {
	case c.Request().Method == http.MethodHead:
		err = c.NoContent(status)
	case v1Dialect(c):
		err = c.JSON(status, v1ErrorBody(status, msg))
	case dzDialect(c):
		err = c.JSON(status, dzMessage{Status: "error", Message: msg})
	default:
		err = c.JSON(status, errorBody{Errors: []string{msg}})
	}
	if err != nil {
		s.Logger.Warn("write error response", "err", err)
	}
}

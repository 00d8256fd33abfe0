package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// connectionRequest is the body of POST, PUT and PATCH /admin/connections:
// absent fields are nil (PUT and PATCH change only those sent).
type connectionRequest struct {
	Name             *string `json:"name"`
	Type             *string `json:"type"`
	Host             *string `json:"host"`
	Port             *int    `json:"port"`
	Username         *string `json:"username"`
	Password         *string `json:"password"`
	PrivateKey       *string `json:"private_key" depot:"text"`
	HostKey          *string `json:"host_key"`
	TLS              *string `json:"tls"`
	TLSFingerprint   *string `json:"tls_fingerprint"`
	CACert           *string `json:"ca_cert" depot:"text"`
	BasePath         *string `json:"base_path" depot:"path"`
	Endpoint         *string `json:"endpoint" depot:"path"`
	Region           *string `json:"region"`
	Bucket           *string `json:"bucket"`
	Prefix           *string `json:"prefix" depot:"path"`
	PathStyle        *bool   `json:"path_style"`
	AccessKey        *string `json:"access_key"`
	SecretKey        *string `json:"secret_key"`
	Container        *string `json:"container"`
	Account          *string `json:"account"`
	AccountKey       *string `json:"account_key"`
	SASToken         *string `json:"sas_token"`
	ConnectionString *string `json:"connection_string"`
	CredentialsJSON  *string `json:"credentials_json" depot:"text"`
	AS2Partner       *string `json:"as2_partner"`
}

// apply copies the fields sent onto c.
func (r *connectionRequest) apply(c *mft.Connection) {
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&c.Name, r.Name}, {&c.Type, r.Type}, {&c.Host, r.Host}, {&c.Username, r.Username}, {&c.Password, r.Password},
		{&c.PrivateKey, r.PrivateKey}, {&c.HostKey, r.HostKey}, {&c.TLS, r.TLS}, {&c.TLSFingerprint, r.TLSFingerprint},
		{&c.CACert, r.CACert}, {&c.BasePath, r.BasePath}, {&c.Endpoint, r.Endpoint}, {&c.Region, r.Region},
		{&c.Bucket, r.Bucket}, {&c.Prefix, r.Prefix}, {&c.AccessKey, r.AccessKey}, {&c.SecretKey, r.SecretKey},
		{&c.Container, r.Container}, {&c.Account, r.Account}, {&c.AccountKey, r.AccountKey}, {&c.SASToken, r.SASToken},
		{&c.ConnectionString, r.ConnectionString}, {&c.CredentialsJSON, r.CredentialsJSON}, {&c.AS2Partner, r.AS2Partner}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if r.Port != nil {
		c.Port = *r.Port
	}
	if r.PathStyle != nil {
		c.PathStyle = *r.PathStyle
	}
}

// connectionView shows a connection with its secrets as "(set)" or "".
type connectionView struct {
	mft.Connection
}

func newConnectionView(c *mft.Connection) connectionView {
	v := *c
	v.Password, v.PrivateKey, v.SecretKey = mft.Hidden(c.Password), mft.Hidden(c.PrivateKey), mft.Hidden(c.SecretKey)
	v.AccountKey, v.SASToken, v.ConnectionString = mft.Hidden(c.AccountKey), mft.Hidden(c.SASToken), mft.Hidden(c.ConnectionString)
	v.CredentialsJSON = mft.Hidden(c.CredentialsJSON)
	return connectionView{v}
}

func (s *Server) handleConnectionList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Connections.Store.FindConnections(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "connection", viewsOf(list, newConnectionView), p, more, last)
}

func (s *Server) handleConnectionCreate(c echo.Context) error {
	var req connectionRequest
	if err := s.decodeCreate(c, "connection", &req, connectionView{}); err != nil {
		return err
	}
	conn := &mft.Connection{}
	req.apply(conn)
	if err := s.Connections.Create(s.changeContext(c), conn); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "connection", newConnectionView(conn))
}

func (s *Server) handleConnectionView(c echo.Context) error {
	conn, err := s.Connections.Store.FindConnection(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "connection", newConnectionView(conn))
}

func (s *Server) handleConnectionUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	old, err := s.Connections.Store.FindConnection(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req connectionRequest
	if err := s.decodeUpdate(c, "connection", &req, newConnectionView(old), "type"); err != nil {
		return err
	}
	next := newConnectionView(old).Connection // secrets as markers: Update keeps them
	req.apply(&next)
	if err := s.Connections.Update(s.changeContext(c), old, &next); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "connection", newConnectionView(&next))
}

func (s *Server) handleConnectionDelete(c echo.Context) error {
	if err := s.Connections.Delete(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// handleConnectionTest connects, lists the base path and answers what it
// found, or 422 with the remote's own error.
func (s *Server) handleConnectionTest(c echo.Context) error {
	ctx := c.Request().Context()
	conn, err := s.Connections.Store.FindConnection(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	res, err := s.Connections.Test(ctx, conn)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "test", res)
}

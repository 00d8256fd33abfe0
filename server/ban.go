package server

import (
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// handleBanList lists the addresses the defender bans now.
func (s *Server) handleBanList(c echo.Context) error {
	bans := s.Defender.Bans()
	out := make([]map[string]any, len(bans))
	for i, b := range bans {
		out[i] = map[string]any{"ban": b}
	}
	return c.JSON(http.StatusOK, out)
}

// handleBanDelete lifts the ban on one address.
func (s *Server) handleBanDelete(c echo.Context) error {
	ip, err := netip.ParseAddr(pathParam(c, "ip"))
	if err != nil {
		return mft.Errorf(mft.EINVALID, "%q is not an IP address.", pathParam(c, "ip"))
	}
	if err := s.Auth.LiftBan(s.changeContext(c), ip); err != nil {
		return err
	}
	s.Logger.Info("ban lifted", "ip", ip.Unmap().String(), "by", caller(c).ID)
	return c.NoContent(http.StatusOK)
}

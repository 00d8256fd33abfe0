package auth

import (
	"context"
	"net/netip"

	"depot/mft"
)

// LiftBan ends the ban on ip (ENOTFOUND when it is not banned) and
// publishes ban.lifted for the origin ctx carries.
func (a *Authenticator) LiftBan(ctx context.Context, ip netip.Addr) error {
	if !a.Defender.Unban(ip) {
		return mft.Errorf(mft.ENOTFOUND, "%s is not banned.", ip.Unmap())
	}
	mft.PublishChange(ctx, a.Events, mft.EventBanLifted, ip.String())
	return nil
}

package auth

import (
	"context"
	"net/netip"

	"depot/mft"
)

// LiftBan ends the ban on ip (ENOTFOUND when it is not banned) and
// publishes ban.lifted for the origin ctx carries.
func (a *Authenticator) LiftBan(ctx context.Context, ip netip.Addr) error {
	if found, err := a.Defender.Unban(ctx, ip); err != nil {
		return err
	} else if !found {
		return mft.Errorf(mft.ENOTFOUND, "%s is not banned.", ip.Unmap())
	}
	mft.PublishChange(ctx, a.Events, mft.EventBanLifted, ip.String())
	return nil
}

package e2e

import (
	"net/netip"
)

type netipPrefix = netip.Prefix

var (
	loopback = netip.MustParseAddr("127.0.0.1")
	otherIP  = netip.MustParseAddr("192.0.2.9")
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

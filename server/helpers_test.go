package server_test

import (
	"io"
	"net/http"
	"net/netip"
)

type netipPrefix = netip.Prefix

var (
	loopback = netip.MustParseAddr("127.0.0.1")
	otherIP  = netip.MustParseAddr("192.0.2.9")
)

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// io_Pipe is io.Pipe, named apart so that tests read as prose.
var io_Pipe = io.Pipe

// http_Request is http.Request, for request-editing callbacks.
type http_Request = http.Request

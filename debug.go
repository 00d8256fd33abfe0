package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

// serveDebug serves Go's pprof handlers (goroutines, heap, CPU profiles)
// on DEPOT_DEBUG_LISTEN, for diagnosis and the soak benchmark. It is off
// unless set, and must be a loopback address: the profiles are not
// authenticated.
func serveDebug(logger *slog.Logger) {
	addr := os.Getenv("DEPOT_DEBUG_LISTEN")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		logger.Warn("DEPOT_DEBUG_LISTEN must be a loopback address such as 127.0.0.1:6060; profiles stay off", "addr", addr)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	ln, err := net.Listen("tcp", addr) // bound before serve goes on
	if err != nil {
		logger.Warn("debug listener", "err", err)
		return
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil {
			logger.Warn("debug listener stopped", "err", err)
		}
	}()
	logger.Info("pprof profiles served", "addr", addr)
}

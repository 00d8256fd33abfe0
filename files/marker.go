package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
)

// runningMarker exists in the data directory while a server runs; finding
// it at start-up means the last run did not shut down cleanly.
const runningMarker = "depot.running"

// flusher is a usage store that keeps changes in memory between writes.
type flusher interface {
	Flush(ctx context.Context) error
}

// Begin prepares storage for serving: after an unclean stop it recounts
// usage from the disk; it always removes leftover staging files (no
// upload can be running yet) and marks the data directory in use. On a
// data directory other nodes share, none of that can be known: it removes
// only the staging files the periodic sweep would (StagingTTL), and
// recounting is `depot fsck`'s, with the nodes stopped.
func (s *Service) Begin(ctx context.Context, logger *slog.Logger) error {
	if s.Shared {
		_, err := s.SweepStaging(StagingTTL)
		return err
	}
	marker := filepath.Join(s.dataDir, runningMarker)
	if _, err := os.Stat(marker); err == nil {
		logger.Warn("the last run did not stop cleanly; recounting storage usage")
		bytes, count, err := s.Fsck(ctx)
		if err != nil {
			return fmt.Errorf("recount storage usage: %w", err)
		}
		logger.Info("storage usage recounted", "files", count, "bytes", bytes)
	}
	if n, err := s.SweepStaging(0); err != nil {
		logger.Warn("remove leftover staging files", "err", err)
	} else if n > 0 {
		logger.Info("leftover staging files removed", "count", n)
	}
	return os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// End writes the pending usage changes and records a clean shutdown; if
// the usage cannot be written, the next Begin recounts it.
func (s *Service) End(ctx context.Context) error {
	if f, ok := s.Usage.(flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return fmt.Errorf("write storage usage: %w", err)
		}
	}
	if s.Shared {
		return nil
	}
	err := os.Remove(filepath.Join(s.dataDir, runningMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

package app

import (
	"os"
	"runtime/debug"
	"testing"

	"depot/config"
)

// TuneRuntime sets the collector's target and its floor, the floor capped
// at a quarter of the memory limit, and leaves both to GOGC when it is set.
func TestTuneRuntime(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	t.Setenv("GOMEMLIMIT", "")
	os.Unsetenv("GOMEMLIMIT")
	defer func() { gcFloor = nil }()

	TuneRuntime(config.Runtime{MemoryLimitMB: 40, GCPercent: 150, GCFloorMB: 128})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC percent %d, want 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 40<<20 {
		t.Errorf("memory limit %d, want %d", got, 40<<20)
	}
	if len(gcFloor) != 10<<20 {
		t.Errorf("floor %d bytes, want a quarter of the 40 MiB limit", len(gcFloor))
	}

	gcFloor = nil
	t.Setenv("GOGC", "80")
	TuneRuntime(config.Runtime{GCPercent: 150, GCFloorMB: 128})
	if gcFloor != nil {
		t.Error("a floor despite GOGC")
	}
	if got := debug.SetGCPercent(100); got == 150 {
		t.Error("gc_percent won over GOGC")
	}
}

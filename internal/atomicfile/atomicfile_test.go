package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "key")
	// A crash's leftover, readable by all, must not lend its mode.
	if err := os.WriteFile(name+".tmp", []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(name, []byte("new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(name); string(b) != "new\n" || st.Mode().Perm() != 0o600 {
		t.Errorf("%q mode %v, want \"new\\n\" 0600", b, st.Mode().Perm())
	}
	if _, err := os.Stat(name + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file stayed: %v", err)
	}
	// A folder that does not exist is an error, and leaves nothing.
	if err := Write(filepath.Join(dir, "no", "key"), []byte("x"), 0o600); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
}

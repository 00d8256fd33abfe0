// Package testtool lets tests that need an external program (curl, sftp,
// gpg, …) find it, skipping with a message naming the program in a bare
// `go test` run and failing when DEPOT_REQUIRE_TOOLS=1, as the README's test
// command sets.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the variable that turns a missing tool into a failure.
const RequireEnv = "DEPOT_REQUIRE_TOOLS"

// Path returns the path of the program name, or ends the test: a failure
// under DEPOT_REQUIRE_TOOLS=1, otherwise a skip naming the program.
func Path(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s is required for this test but is not installed (run scripts/test.sh to install it)", name)
	}
	tb.Skipf("skipping: %s is not installed (scripts/test.sh installs it and makes this a failure)", name)
	return ""
}

// File returns the path of a file a tool installs (such as axe-core's
// script), named by the variable env, or ends the test as Path does.
func File(tb testing.TB, env, what string) string {
	tb.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("%s is required for this test but %s does not name it (run scripts/test.sh to install it)", what, env)
	}
	tb.Skipf("skipping: %s is not installed, or %s does not name it (scripts/test.sh installs it and makes this a failure)", what, env)
	return ""
}

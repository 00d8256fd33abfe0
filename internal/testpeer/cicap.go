package testpeer

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// CICAP is c-icap with its virus_scan service backed by a clamd, on a
// loopback port: an ICAP server (RFC 3507) as appliances are.
type CICAP struct {
	*Process
	// URL is the service's address as scan.address takes it.
	URL string
}

// StartCICAP starts c-icap scanning through clamd's Unix socket.
func StartCICAP(tb testing.TB, clamd *Clamd) *CICAP {
	tb.Helper()
	bin := tool(tb, "c-icap")
	mods := "/usr/lib/x86_64-linux-gnu/c_icap"
	if _, err := os.Stat(filepath.Join(mods, "virus_scan.so")); err != nil {
		tb.Fatalf("c-icap's virus_scan module is not installed (libc-icap-mod-virus-scan): %v", err)
	}
	dir := tb.TempDir()
	port := freePort(tb)
	conf := fmt.Sprintf(`PidFile %[1]s/c-icap.pid
CommandsSocket %[1]s/c-icap.ctl
Timeout 300
StartServers 1
MaxServers 1
MinSpareThreads 2
MaxSpareThreads 8
ThreadsPerChild 8
Port 127.0.0.1:%[2]d
ServerName depot-test
TmpDir %[1]s
MaxMemObject 131072
DebugLevel 0
ModulesDir %[3]s
ServicesDir %[3]s
TemplateDir /usr/share/c_icap/templates/
TemplateDefaultLanguage en
LoadMagicFile /etc/c-icap/c-icap.magic
ServerLog %[1]s/server.log
AccessLog %[1]s/access.log
Module common clamd_mod.so
clamd_mod.ClamdSocket %[4]s
Service antivirus_module virus_scan.so
ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple
virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE
virus_scan.MaxObjectSize 4096M
virus_scan.DefaultEngine clamd
`, dir, port, mods, clamd.Socket)
	cf := filepath.Join(dir, "c-icap.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	p := startGroup(tb, port, bin, "-N", "-f", cf)
	return &CICAP{Process: p, URL: fmt.Sprintf("icap://127.0.0.1:%d/avscan", port)}
}

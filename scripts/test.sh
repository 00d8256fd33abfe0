#!/usr/bin/env bash
# Runs every Depot test on a fresh Debian machine: installs the real peers
# the tests talk to when they are missing, then go vet and go test with the
# race detector. Tests that need a tool fail (not skip) under this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PATH:/usr/sbin:/sbin:$(go env GOPATH)/bin" # sshd, vsftpd, useradd; versitygw

cat <<'NOTE'
scripts/test.sh changes this machine (as root), and undoes what it can:
  - installs the Debian packages below that are missing, VersityGW and
    fake-gcs-server (go install), axe-core and Azurite (npm install -g), libas2
    and oidc-provider (npm, in /usr/local/lib/depot-test-libas2 and
    depot-test-oidc); these stay;
  - makes the system user depotftp (no home, no login shell, a password made
    for this run) for the vsftpd peer, and deletes it at the end;
  - installs, upgrades and purges a depot .deb (the package test; it refuses to
    run beside an installed depot), which makes and removes the depot user;
  - loop-mounts a 64 MiB ext4 image under a temporary folder (the disk-full
    test) and unmounts it.
NOTE

# command → Debian package that provides it
declare -A tools=(
	[curl]=curl
	[gcc]=gcc
	[sftp]=openssh-client
	[ssh-keygen]=openssh-client
	[sshd]=openssh-server # the SFTP peer of storage connections
	[vsftpd]=vsftpd       # the FTP and FTPS peer
	[useradd]=passwd      # makes the vsftpd peer's FTP user
	[lftp]=lftp           # an FTPS client of Depot's FTP server
	[cadaver]=cadaver     # a WebDAV client (locks)
	[slapd]=slapd         # the LDAP directory of the company-directory logins
	[slapadd]=slapd
	[ldapmodify]=ldap-utils # changes the test directory while Depot runs
	[ldapdelete]=ldap-utils
	[oathtool]=oathtool # computes the two-factor codes the tests type
	[rclone]=rclone       # a WebDAV client, and the peer of the speed rows
	[jq]=jq # the README walkthrough's test runs it as written
	[bash]=bash
	[sshpass]=sshpass
	[chromium]=chromium
	[python3]=python3 # its smtpd module is the SMTP peer of the mail tests
	[gpg]=gnupg
	[mkfs.ext4]=e2fsprogs # the disk-full test loop-mounts a small ext4 image
	[mount]=mount
	[openssl]=openssl # the HTTPS tests compare what openssl s_client sees; the AS2 partner (openssl cms)
	[node]=nodejs # runs libas2, the second AS2 implementation
	[clamd]=clamav-daemon # the antivirus engine (with a test signature made by the tests)
	[clamdscan]=clamdscan # the scanner's own speed in the antivirus benchmark
	[c-icap]=c-icap       # the ICAP engine, backed by that clamd
	[zip]=zip             # makes the archives decompress is tested with
	[unzip]=unzip         # reads back what compress wrote
	[ssh-audit]=ssh-audit # audits the SFTP daemon's algorithms
	[testssl]=testssl.sh  # audits the HTTPS listener's protocols and suites
	[promtool]=prometheus # promtool check metrics lints /metrics
	[systemd-analyze]=systemd # the package test verifies the .deb's unit
	[adduser]=adduser         # the .deb's postinst makes the depot user
	[dpkg]=dpkg
	[npm]=npm # installs axe-core, the web client's accessibility check
)

missing=()
for cmd in "${!tools[@]}"; do
	command -v "$cmd" >/dev/null 2>&1 || missing+=("${tools[$cmd]}")
done
# PostgreSQL's server programs live in /usr/lib/postgresql/<version>/bin,
# off the PATH; the store's tests start their own cluster from there.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# c-icap's antivirus service is a module, not a command.
[ -f /usr/lib/x86_64-linux-gnu/c_icap/virus_scan.so ] || missing+=(libc-icap-mod-virus-scan)
if ((${#missing[@]})); then
	echo "Installing missing packages: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The S3 peer: VersityGW, an S3 gateway over a folder, built once from
# the Go module proxy (about a minute) and kept in GOPATH/bin.
if ! command -v versitygw >/dev/null 2>&1; then
	echo "Installing versitygw (the S3 peer of the tests)"
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi
# The Google Cloud Storage peer: fake-gcs-server, in memory in the tests.
if ! command -v fake-gcs-server >/dev/null 2>&1; then
	echo "Installing fake-gcs-server (the Google Cloud Storage peer of the tests)"
	go install github.com/fsouza/fake-gcs-server@v1.56.1
fi

# axe-core, injected by the web client's browser tests into every page.
if [ ! -f "$(npm root -g)/axe-core/axe.min.js" ]; then
	echo "Installing axe-core (the accessibility check of the web client's tests)"
	npm install -g --no-fund --no-audit axe-core@4.14.1
fi
export DEPOT_AXE_CORE="$(npm root -g)/axe-core/axe.min.js"

# The Azure Blob peer: Azurite, Microsoft's emulator (in memory in the tests).
if ! command -v azurite-blob >/dev/null 2>&1; then
	echo "Installing Azurite (the Azure Blob peer of the tests)"
	npm install -g --no-fund --no-audit azurite@3.37.0
fi

# The second AS2 implementation: libas2, with the pkijs it was released on
# (with pkijs 2.4 it cannot sign with an RSA certificate at all).
LIBAS2_DIR=/usr/local/lib/depot-test-libas2
if [ ! -f "$LIBAS2_DIR/node_modules/libas2/package.json" ]; then
	echo "Installing libas2 (the second AS2 implementation of the tests)"
	npm install --prefix "$LIBAS2_DIR" --no-fund --no-audit libas2@0.8.2 pkijs@2.1.90
fi
export DEPOT_LIBAS2="$LIBAS2_DIR/node_modules/libas2"

# The OpenID provider of the single sign-on tests: the npm package
# oidc-provider (8.x runs on Debian's node 20).
OIDC_DIR=/usr/local/lib/depot-test-oidc
if [ ! -f "$OIDC_DIR/node_modules/oidc-provider/package.json" ]; then
	echo "Installing oidc-provider (the OpenID provider of the tests)"
	npm install --prefix "$OIDC_DIR" --no-fund --no-audit oidc-provider@8.8.1
fi
export DEPOT_OIDC_PROVIDER="$OIDC_DIR/node_modules/oidc-provider"

# The vsftpd peer's system user: a password made for this run, which every
# test package reads from here, and the user deleted at the end.
export DEPOT_TEST_FTP_PASSWORD="ftp-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
trap 'userdel depotftp 2>/dev/null || true' EXIT

export DEPOT_REQUIRE_TOOLS=1
# Screenshots of the web client's pages (desktop and phone widths) land here.
export DEPOT_TEST_ARTIFACTS="${DEPOT_TEST_ARTIFACTS:-$PWD/.artifacts}"
export CGO_ENABLED=1 # the race detector needs cgo

go vet ./...
# e2e takes about 6 of the default 10 minutes per package under the race
# detector on the 2-core machine; the guard is for hung tests, not slow ones.
go test -race -count=1 -timeout 25m "$@" ./...

# The end-to-end suite once more with every test app's metadata on
# PostgreSQL (a cluster the tests start; internal/apptest). Without the race
# detector, which the run above already had over the same code: about five
# minutes on the 2-core machine.
DEPOT_TEST_DATABASE=postgres go test -count=1 -timeout 20m "$@" ./e2e

# Each fuzz target runs about five seconds beyond its seed corpus (the
# seeds in the code and testdata/fuzz, which `go test` above already
# replayed). The budgets are counts of inputs, not durations: Go 1.26's
# fuzzer can fail a target with "context deadline exceeded" when a duration
# ends while a worker is busy (go.dev/issue/75804, fixed in Go 1.27).
# FUZZTIME (a count such as 100000x, or a duration) overrides them all.
for target in files:FuzzCleanPath:40000x server:FuzzDecodeEnvelope:8000x sftpd:FuzzConversation:20000x \
	automation:FuzzSchedule:20000x automation:FuzzConditions:15000x mft:FuzzExtensionList:300000x; do
	pkg=${target%%:*} rest=${target#*:}
	go test -run '^$' -fuzz "^${rest%%:*}\$" -fuzztime "${FUZZTIME:-${rest#*:}}" -fuzzminimizetime 100x "./$pkg"
done

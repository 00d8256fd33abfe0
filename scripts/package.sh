#!/usr/bin/env bash
# Builds the Debian package: a static depot binary and, with nfpm, a .deb
# holding it, its systemd unit, /etc/depot/depot.toml (a conffile) and the
# maintainer scripts in packaging/. Prints the path of the .deb.
#
#   scripts/package.sh [OUTDIR]      (default: dist/)
#   VERSION=1.2.3 scripts/package.sh  (default: from git describe)
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
mkdir -p "$out"
out=$(cd "$out" && pwd)
ARCH=${ARCH:-$(go env GOARCH)}
if [ -z "${VERSION:-}" ]; then
	# A Debian version must start with a digit: v1.2.3-4-gabc → 1.2.3-4-gabc,
	# and without a tag 0.0.0~git<date>.<commit>.
	VERSION=$(git describe --tags --match 'v[0-9]*' 2>/dev/null | sed 's/^v//') ||
		VERSION=0.0.0~git$(git log -1 --format=%cd.%h --date=format:%Y%m%d%H%M%S 2>/dev/null || echo dev)
fi
export ARCH VERSION

# The binary goes where packaging/nfpm.yaml takes it from.
trap 'rm -rf .build' EXIT
CGO_ENABLED=0 GOARCH=$ARCH go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o .build/depot .

# nfpm's own command, pinned; go run builds it once and caches it.
go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2 package \
	--config packaging/nfpm.yaml --packager deb --target "$out/depot_${VERSION}_${ARCH}.deb" >&2
echo "$out/depot_${VERSION}_${ARCH}.deb"

#!/usr/bin/env bash
# Builds cnitool, the reference CNI client, from Debian's source package
# golang-github-appc-cni (the binary packages do not ship it), for the plugin's tests.
#
#   tools/build-cnitool.sh [output]      default output: build/bin/cnitool
#
# Prints the binary's path on stdout (progress goes to stderr), so a test can do
#   cnitool=$(bash "$SHUTTLE_SOURCE_DIR/tools/build-cnitool.sh" "$SHUTTLE_BIN_DIR/cnitool")
# Idempotent: an existing working binary is kept; a downloaded source is reused.
# First run needs root and apt access: it turns on deb-src in the existing Debian
# deb822 sources file (adds `deb-src` to its Types lines), runs apt-get update and
# apt-get source --download-only. Builds with golang-go in GOPATH mode, no network.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$repo/build/bin/cnitool}
work=${CNITOOL_WORK_DIR:-$repo/build/cnitool}
package=golang-github-appc-cni
import_path=github.com/containernetworking/cni

log() { echo "build-cnitool: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# cnitool with no arguments prints its usage (and exits non-zero).
prints_usage() { { "$1" 2>&1 || true; } | grep -q 'cnitool: Add, check, or remove network interfaces'; }

if [[ -x $out ]] && prints_usage "$out"; then
  log "already built: $out"
  echo "$out"
  exit 0
fi

# Returns 0 when it turned deb-src on, 1 when it was on already.
enable_deb_src() {
  local file=/etc/apt/sources.list.d/debian.sources
  [[ -f $file ]] || die "$file not found: add a deb-src entry for Debian's main archive by hand"
  grep -Eq '^Types:.*\bdeb-src\b' "$file" && return 1
  log "enabling deb-src in $file"
  sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$file"
  grep -Eq '^Types:.*\bdeb-src\b' "$file" || die "could not add deb-src to the Types lines of $file"
}

source_dsc() { compgen -G "$work/download/${package}_*.dsc" | sort | tail -n1; }

download_source() {
  mkdir -p "$work/download"
  [[ -n $(source_dsc) ]] && return 0
  [[ $(id -u) == 0 ]] || die "run as root the first time (enables deb-src, downloads the source)"
  command -v dpkg-source >/dev/null || die "dpkg-dev missing (tools/install-deps.sh installs it)"
  if enable_deb_src || ! apt-cache showsrc "$package" 2>/dev/null | grep -q '^Package:'; then
    log "apt-get update"
    apt-get update -q >&2
  fi
  log "downloading the source of $package"
  (cd "$work/download" && apt-get source --download-only "$package" >&2)
  [[ -n $(source_dsc) ]] || die "apt-get source left no .dsc"
}

# Unpack straight into the GOPATH location of the import path (GOPATH mode wants the
# tree there; a symlink would confuse the go tool).
unpack_source() {
  local src=$work/gopath/src/$import_path dsc
  [[ -d $src/cnitool ]] && return 0
  rm -rf "$src"
  mkdir -p "$(dirname "$src")"
  dsc=$(source_dsc)
  log "unpacking $(basename "$dsc")"
  dpkg-source --no-check -x "$dsc" "$src" >&2
  [[ -d $src/cnitool ]] || die "no cnitool/ in $(basename "$dsc")"
}

build() {
  command -v go >/dev/null || die "go missing (Debian package golang-go; tools/install-deps.sh installs it)"
  mkdir -p "$(dirname "$out")"
  log "building $import_path/cnitool with $(go version | cut -d' ' -f3)"
  (cd "$work/gopath/src/$import_path" &&
    GOPATH=$work/gopath GO111MODULE=off CGO_ENABLED=0 GOCACHE=$work/gocache GOPROXY=off \
      go build -o "$out" ./cnitool >&2)
}

download_source
unpack_source
build
prints_usage "$out" || die "$out does not print cnitool's usage"
log "built $out"
echo "$out"

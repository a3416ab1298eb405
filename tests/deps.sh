#!/bin/sh
# deps.sh - make sure every Debian package vagent needs is installed.
#
# Called by `make check`, `make bench` and `make demo` (through `make deps`);
# `sh tests/deps.sh fuzz` (make fuzz) adds clang for libFuzzer.
# Silent when everything is there. As root it installs what is missing
# (apt-get update once, then apt-get install); as anyone else it prints the
# apt-get line to run and exits 1. Debian 12 (bookworm) is the target.

set -eu

# Build, unit and integration tests, benchmarks, demo: one list.
PACKAGES="build-essential pkg-config
libevent-dev libcurl4-openssl-dev libwebsockets-dev libuv1-dev libmsgpack-dev
libmariadb-dev libjansson-dev libinih-dev libcmocka-dev libespeak-ng-dev
libspeexdsp-dev
espeak-ng sox libev-dev libwebsockets-evlib-ev
python3 python3-pytest python3-pytest-xdist python3-pymysql python3-websockets
mariadb-server mariadb-client
uuid-runtime procps hey openssl libssl-dev ca-certificates
chromium chromium-driver python3-selenium"
[ "${1:-}" = fuzz ] && PACKAGES="$PACKAGES clang"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps.sh: dpkg-query not found: install these packages by hand:" >&2
	# shellcheck disable=SC2086  # a word list on purpose
	echo "  "$PACKAGES >&2
	exit 1
fi

# Prints those of the named packages that are not installed.
not_installed() {
	out=
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || out="$out $p"
	done
	echo "${out# }"
}

# shellcheck disable=SC2086  # a word list on purpose
missing=$(not_installed $PACKAGES)

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing Debian packages; install them with:" >&2
	echo "sudo apt-get install -y --no-install-recommends $missing" >&2
	exit 1
fi

echo "deps.sh: installing: $missing" >&2
log=$(mktemp "${TMPDIR:-/tmp}/vagent-deps.XXXXXX")
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once, always.
if ! apt-get update -q >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: apt-get update failed" >&2
	exit 1
fi
# shellcheck disable=SC2086  # $missing is a word list on purpose
if ! apt-get install -y -q --no-install-recommends $missing >"$log" 2>&1; then
	cat "$log" >&2
	echo "deps.sh: apt-get install failed for: $missing" >&2
	exit 1
fi

# Check again: a package that apt-get skipped is still a failure.
# shellcheck disable=SC2086
still=$(not_installed $missing)
if [ -n "$still" ]; then
	echo "deps.sh: still not installed: $still" >&2
	exit 1
fi
exit 0

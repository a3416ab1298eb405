#!/bin/sh
# fresh-machine.sh - the README's two commands on a Debian 12 that has nothing.
#
# Makes a minbase bookworm chroot with debootstrap from the mirror this
# machine's apt uses, installs only `make` in it, copies a clean clone of
# this repository's HEAD in, and runs `make demo` then `make check` exactly
# as README.md says, as root, with a bare environment. This is how a
# newcomer meets vagent; a green run on a developer machine proves less,
# because its packages are already there.
#
#   sudo sh tests/fresh-machine.sh [DIR]     (default /var/tmp/vagent-fresh)
#
# FRESH_KEEP_BASE=1 keeps the pristine debootstrap result in DIR.base and
# starts later runs from a copy of it (saves the download, not the package
# installs, which are what is being tested). Needs root, debootstrap and the
# network to the Debian mirror. Exits with the first failing step's status;
# the log of each step is in DIR.log/. Not part of `make check`.

set -eu

[ "$(id -u)" -eq 0 ] || { echo "fresh-machine: run as root (chroot, mounts)" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 ||
	{ echo "fresh-machine: apt-get install debootstrap first" >&2; exit 1; }

cd "$(dirname "$0")/.."
REPO=$(pwd)
DIR=${1:-/var/tmp/vagent-fresh}
LOGS=$DIR.log
BASE=$DIR.base

# The first Debian archive URI apt uses here (deb822 or one-line format).
mirror() {
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f"
	done | head -n 1
	[ -f /etc/apt/sources.list ] &&
		awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list
	true
}
MIRROR=$(mirror | head -n 1)
[ -n "$MIRROR" ] || { echo "fresh-machine: no Debian mirror found in /etc/apt" >&2; exit 1; }

# Processes left in the chroot (a demo's daemons) keep its mounts busy.
kill_chroot_procs() {
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null || true)
		[ "$r" = "$DIR" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
	done
}

unmount_all() {
	kill_chroot_procs
	for m in dev/shm dev/pts dev run sys proc; do
		mountpoint -q "$DIR/$m" 2>/dev/null && umount -l "$DIR/$m" || true
	done
}

step() {
	name=$1
	shift
	echo "fresh-machine: $name"
	start=$(date +%s)
	if "$@" >"$LOGS/$name.log" 2>&1; then
		echo "fresh-machine: $name ok in $(($(date +%s) - start)) s"
	else
		rc=$?
		echo "fresh-machine: $name FAILED with status $rc after $(($(date +%s) - start)) s;" \
			"last lines of $LOGS/$name.log:" >&2
		tail -n 40 "$LOGS/$name.log" >&2
		exit "$rc"
	fi
}

in_chroot() {
	chroot "$DIR" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

unmount_all
rm -rf "$DIR" "$LOGS"
mkdir -p "$LOGS"
trap unmount_all EXIT INT TERM

if [ "${FRESH_KEEP_BASE:-0}" = 1 ] && [ -x "$BASE/bin/sh" ]; then
	step copy-base cp -a "$BASE" "$DIR"
else
	step debootstrap debootstrap --variant=minbase bookworm "$DIR" "$MIRROR"
	[ "${FRESH_KEEP_BASE:-0}" = 1 ] && { rm -rf "$BASE"; cp -a "$DIR" "$BASE"; }
fi

# The same apt sources as this machine, and a resolver to reach them.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
	rm -f "$DIR/etc/apt/sources.list"
	cp /etc/apt/sources.list.d/*.sources "$DIR/etc/apt/sources.list.d/"
fi
cp -L /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
# debootstrap writes no /etc/hosts (the installer does); every real Debian
# has one, and without it "localhost" goes to the resolver.
[ -e "$DIR/etc/hosts" ] ||
	printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$DIR/etc/hosts"

mount -t proc proc "$DIR/proc"
mount -t sysfs sys "$DIR/sys"
mount --bind /dev "$DIR/dev"
mount -t devpts devpts "$DIR/dev/pts" -o newinstance,ptmxmode=0666 2>/dev/null ||
	mount --bind /dev/pts "$DIR/dev/pts"
mount -t tmpfs shm "$DIR/dev/shm"
mount -t tmpfs run "$DIR/run"

step install-make in_chroot sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q make'

# A clean clone of what is committed (the work tree's edits are not tested).
step clone git clone -q --no-hardlinks "$REPO" "$DIR/root/vagent"

step make-demo in_chroot sh -c 'cd /root/vagent && make demo'
step make-check in_chroot sh -c 'cd /root/vagent && make check'
tail -n 3 "$LOGS/make-check.log"
echo "fresh-machine: both README commands passed on a fresh Debian 12 ($(git -C "$DIR/root/vagent" rev-parse --short HEAD))"

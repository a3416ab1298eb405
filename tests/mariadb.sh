#!/bin/sh
# mariadb.sh - a private MariaDB server for tests, benchmarks and the demo.
#
#   tests/mariadb.sh start DIR PORT   start (initialising DIR the first time)
#   tests/mariadb.sh stop DIR         shut down cleanly, wait for the process
#   tests/mariadb.sh kill DIR         SIGKILL (crash tests), wait for the process
#
# Everything lives under DIR: data/, mysqld.sock, mysqld.pid, error.log.
# The server listens on 127.0.0.1:PORT and DIR/mysqld.sock only and reads
# no my.cnf (--no-defaults everywhere), so a system server is not touched
# and does not interfere. root@localhost has no password (socket only);
# database `vagent` and user vagent/vagent exist for 127.0.0.1 and
# localhost. DEMO AND TEST ONLY: these credentials are public.
#
# Durability stays as in production (innodb_flush_log_at_trx_commit=1,
# doublewrite on): the booking-writer's crash tests depend on it. What is
# cut is start-up cost: small buffer pool and redo log, no name lookups.
# Needs Debian's mariadb-server and mariadb-client (tests/deps.sh).

set -eu

die() {
	echo "mariadb.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | kill DIR" >&2
	exit 2
}

# Whether pid is a live (not zombie) mariadbd. After a SIGKILL the server
# may linger as a zombie of a parent that does not reap it.
alive() {
	[ -n "$1" ] || return 1
	if [ -r "/proc/$1/stat" ]; then
		st=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
		[ -n "$st" ] && [ "$st" != Z ] || return 1
		comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
		case $comm in mariadbd|mysqld) return 0 ;; *) return 1 ;; esac
	fi
	kill -0 "$1" 2>/dev/null
}

# Whether our own background child $1 still runs. Not alive(): until the
# forked shell has exec'd mariadbd its name is not mariadbd yet, and on a
# loaded machine the first check came before the exec.
child_runs() {
	st=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

pid_of() {
	if [ -r "$DIR/mysqld.pid" ]; then
		cat "$DIR/mysqld.pid" 2>/dev/null || true
	fi
}

# Waits up to $2 tenths of a second for pid $1 to go.
wait_gone() {
	n=0
	while alive "$1"; do
		n=$((n + 1))
		[ "$n" -le "$2" ] || return 1
		sleep 0.1
	done
	return 0
}

# SQL on stdin, as root.
client() {
	mariadb --no-defaults --socket="$DIR/mysqld.sock" -uroot
}

admin() {
	mariadb-admin --no-defaults --socket="$DIR/mysqld.sock" -uroot "$@"
}

start() {
	[ $# -eq 2 ] || usage
	mkdir -p "$1"
	DIR=$(cd "$1" && pwd)
	PORT=$2
	case $PORT in ''|*[!0-9]*) die "port '$PORT' is not a number" ;; esac
	# sun_path is 108 bytes.
	[ ${#DIR} -le 90 ] || die "$DIR: too long for a Unix socket path (max 90 characters)"
	command -v mariadbd >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
	command -v mariadbd >/dev/null 2>&1 ||
		die "mariadbd not found: apt-get install mariadb-server mariadb-client"

	user=
	[ "$(id -u)" -ne 0 ] || user=--user=root

	pid=$(pid_of)
	if alive "$pid"; then
		echo "mariadb.sh: already running in $DIR (pid $pid)" >&2
		return 0
	fi
	rm -f "$DIR/mysqld.pid"

	mkdir -p "$DIR/tmp"
	if [ ! -d "$DIR/data/mysql" ]; then
		rm -rf "$DIR/data"
		# A host without /etc/hosts (a minimal chroot or container) cannot
		# resolve its own name: --force skips install-db's look-up (it does
		# nothing else) and --skip-name-resolve matches how the server runs.
		# Its temporary tables go under DIR too, not /tmp: several servers
		# are set up at once when the suite runs in parallel.
		# shellcheck disable=SC2086  # $user is empty or one word
		mariadb-install-db --no-defaults $user --auth-root-authentication-method=normal \
			--force --skip-name-resolve \
			--skip-test-db --datadir="$DIR/data" --tmpdir="$DIR/tmp" \
			--innodb-log-file-size=16M \
			>"$DIR/install.log" 2>&1 ||
			{ cat "$DIR/install.log" >&2; die "mariadb-install-db failed"; }
	fi

	# shellcheck disable=SC2086
	mariadbd --no-defaults $user --datadir="$DIR/data" --tmpdir="$DIR/tmp" \
		--socket="$DIR/mysqld.sock" --pid-file="$DIR/mysqld.pid" \
		--log-error="$DIR/error.log" --bind-address=127.0.0.1 --port="$PORT" \
		--skip-name-resolve --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
		--innodb-flush-log-at-trx-commit=1 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
		</dev/null >>"$DIR/mariadbd.out" 2>&1 &
	pid=$!

	# Up to 30 s for it to answer.
	n=0
	until admin --connect-timeout=1 ping >/dev/null 2>&1; do
		if ! child_runs "$pid"; then
			tail -n 30 "$DIR/error.log" >&2 2>/dev/null || true
			die "mariadbd exited during start-up (see $DIR/error.log)"
		fi
		n=$((n + 1))
		if [ "$n" -gt 300 ]; then
			kill -9 "$pid" 2>/dev/null || true
			tail -n 30 "$DIR/error.log" >&2 2>/dev/null || true
			die "mariadbd did not answer within 30 s (see $DIR/error.log)"
		fi
		sleep 0.1
	done

	# Every time (all IF NOT EXISTS): a first start that died here is mended.
	client <<-'EOF' || die "creating database vagent and user vagent failed"
	CREATE DATABASE IF NOT EXISTS vagent
	    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
	CREATE USER IF NOT EXISTS 'vagent'@'127.0.0.1' IDENTIFIED BY 'vagent';
	CREATE USER IF NOT EXISTS 'vagent'@'localhost' IDENTIFIED BY 'vagent';
	GRANT ALL PRIVILEGES ON vagent.* TO 'vagent'@'127.0.0.1', 'vagent'@'localhost';
	EOF
	echo "$PORT" >"$DIR/port"
	echo "mariadb.sh: running in $DIR, pid $pid, 127.0.0.1:$PORT, socket $DIR/mysqld.sock"
}

stop() {
	[ $# -eq 1 ] || usage
	[ -d "$1" ] || die "$1: no such directory"
	DIR=$(cd "$1" && pwd)
	pid=$(pid_of)
	if ! alive "$pid"; then
		echo "mariadb.sh: not running in $DIR" >&2
		return 0
	fi
	admin shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" 600; then
		kill -9 "$pid" 2>/dev/null || true
		die "mariadbd (pid $pid) still running 60 s after shutdown; killed it"
	fi
}

kill_server() {
	[ $# -eq 1 ] || usage
	[ -d "$1" ] || die "$1: no such directory"
	DIR=$(cd "$1" && pwd)
	pid=$(pid_of)
	alive "$pid" || die "not running in $DIR"
	kill -9 "$pid"
	wait_gone "$pid" 100 || die "mariadbd (pid $pid) still there 10 s after SIGKILL"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
start) start "$@" ;;
stop) stop "$@" ;;
kill) kill_server "$@" ;;
*) usage ;;
esac

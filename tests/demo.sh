#!/bin/sh
# demo.sh - a private vagentd answering a booking call.
#
# Run by `make demo` (VAGENT_BUILD = the build directory). Everything lives
# in ./var/demo: a private MariaDB, the provider emulators (Deepgram, an
# OpenAI-compatible model and Cartesia: test doubles that speak the real
# wire protocols, with espeak-ng for a voice), vagentd with its api and
# booking-writer, the callers' audio, the recordings and the logs. Ports
# 19099 (AudioSocket) and 19089 (api): a system vagentd is not disturbed.
#
#   call 1: the echo engine; a sentence comes back exactly as it was sent.
#   call 2: DID 442039962952 (George The Plumber): the local agent greets,
#           hears the problem, quotes the callout, takes postcode, address
#           and name, books the job and hangs up. Printed: the transcript
#           with each turn's latency, the booking row from MariaDB, and the
#           recording of what the caller heard.
#   board:  a second booking (through create_booking, a cloud agent's path)
#           and a screenshot of the dispatch board with both, taken by
#           headless Chromium after logging in: var/demo/board.png.
#
# With real keys (VAGENT_STT_API_KEY, VAGENT_LLM_API_KEY, VAGENT_TTS_API_KEY)
# and the real URLs in [stt], [llm] and [tts], the same engine talks to the
# real services: nothing in it knows about the emulators.

set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${VAGENT_BUILD:-$ROOT/build}
VAGENTD=$BUILD/vagentd
VAGENTCTL=$BUILD/vagentctl
CALLER=$BUILD/vagent-call
EMU=$BUILD/vagent-emu
PYTHON=/usr/bin/python3

PORT=19099
API_PORT=19089
DB_PORT=19306
EMU_DG=19101
EMU_LLM=19102
EMU_TTS=19103
DEMO=$ROOT/var/demo
RUN=$DEMO/run
CTX=$DEMO/ctx
CONF=$DEMO/vagent.conf
LOG=$DEMO/vagentd.log
DBSOCK=$DEMO/mariadb/mysqld.sock
ECHO_DID=440000000001
BOOK_DID=442039962952
BOOK_CLI=447963155448

die() {
	echo "demo: $*" >&2
	exit 1
}

show_log() {
	if [ -s "$LOG" ]; then
		echo "demo: last lines of $LOG:" >&2
		tail -n 15 "$LOG" >&2
	fi
}

sql() {
	mariadb --no-defaults -S "$DBSOCK" -uroot vagent "$@"
}

for b in "$VAGENTD" "$VAGENTCTL" "$CALLER" "$EMU"; do
	[ -x "$b" ] || die "$b is missing: build with 'make' (or run 'make demo')"
done
for t in espeak-ng sox soxi uuidgen mariadb "$PYTHON"; do
	command -v "$t" >/dev/null 2>&1 ||
		die "$t is missing: run 'sh tests/deps.sh' (as root it installs it)"
done

mkdir -p "$DEMO" "$RUN" "$CTX"

# A demo left running by an interrupted run holds the run directory's lock.
if [ -s "$RUN/vagentd.pid" ]; then
	old=$(cat "$RUN/vagentd.pid")
	if kill -0 "$old" 2>/dev/null; then
		echo "demo: stopping the vagentd (pid $old) left by an earlier demo"
		kill -TERM "$old" 2>/dev/null || true
		i=0
		while kill -0 "$old" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$old" 2>/dev/null && die "vagentd pid $old did not stop; kill it by hand"
	fi
fi

# --- the callers' audio ------------------------------------------------------

echo "demo: the callers' audio, spoken by espeak-ng"
"$PYTHON" tests/demo_caller.py "$DEMO/echo.wav" 0.2 \
	"Hello, this is the vagent echo test. You should hear this sentence played back." 0.2 ||
	die "could not make the echo caller's audio"
"$PYTHON" tests/demo_caller.py "$DEMO/caller.wav" \
	5.0 "Hi, I've got water leaking from a pipe under my kitchen sink." \
	9.5 "Yes, that's fine." \
	4.5 "It's E 5, 9 E S." \
	5.0 "42 Amhurst Road." \
	5.0 "Ahmed Lekan." \
	14.0 || die "could not make the booking caller's audio"

# --- MariaDB and the emulators -----------------------------------------------

EMU_PID=
VAGENTD_PID=
cleanup() {
	if [ -n "$VAGENTD_PID" ] && kill -0 "$VAGENTD_PID" 2>/dev/null; then
		kill -TERM "$VAGENTD_PID" 2>/dev/null || true
		i=0
		while kill -0 "$VAGENTD_PID" 2>/dev/null && [ $i -lt 150 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$VAGENTD_PID" 2>/dev/null || true
	fi
	if [ -n "$EMU_PID" ]; then
		kill -TERM "$EMU_PID" 2>/dev/null || true
	fi
	sh "$ROOT/tests/mariadb.sh" stop "$DEMO/mariadb" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "demo: a private MariaDB in $DEMO/mariadb"
sh "$ROOT/tests/mariadb.sh" start "$DEMO/mariadb" "$DB_PORT" >/dev/null ||
	die "MariaDB did not start (see $DEMO/mariadb/error.log)"
printf 'vagent\n' >"$DEMO/db.password"
chmod 600 "$DEMO/db.password"
if [ ! -s "$DEMO/api.key" ]; then
	(umask 077; head -c 24 /dev/urandom | base64 >"$DEMO/api.key")
fi

# What the emulated providers say: the words the caller is heard to speak,
# and the model's replies turn by turn (a real model decides these itself).
cp tests/demo_script.json "$DEMO/script.json"
"$EMU" --script "$DEMO/script.json" --deepgram $EMU_DG --openai $EMU_LLM \
	--cartesia $EMU_TTS --log "$DEMO/emulators.log" >"$DEMO/emulators.out" 2>&1 &
EMU_PID=$!

# --- configuration ---------------------------------------------------------------

cat >"$CONF" <<EOF
; vagent demo configuration, written by tests/demo.sh
[vagentd]
listen = 127.0.0.1:$PORT
; stay as started: this is a private instance
user =
run_dir = $RUN
max_calls = 8
min_spare = 2
max_spare = 8
drain_timeout = 10
log_level = info
log_file = $LOG

[call]
engine = local
context_dir = $CTX

[did:$ECHO_DID]
engine = echo

[db]
host = 127.0.0.1
port = $DB_PORT
password_file = $DEMO/db.password
database = vagent

[writer]
journal_dir = $DEMO/journal

[api]
listen = 127.0.0.1:$API_PORT
api_key_file = $DEMO/api.key

[stt]
url = ws://127.0.0.1:$EMU_DG/v1/listen

[llm]
url = http://127.0.0.1:$EMU_LLM/openai/v1

[tts]
url = ws://127.0.0.1:$EMU_TTS/tts/websocket
voice = a0e99841-438c-4a64-b679-ae501e7d6091

[local]
prompt_file = $ROOT/conf/prompts/local.md
api_url = http://127.0.0.1:$API_PORT
EOF

# The emulators take any key; the real providers need yours.
export VAGENT_STT_API_KEY="${VAGENT_STT_API_KEY:-demo}"
export VAGENT_LLM_API_KEY="${VAGENT_LLM_API_KEY:-demo}"
export VAGENT_TTS_API_KEY="${VAGENT_TTS_API_KEY:-demo}"
"$VAGENTD" -t -c "$CONF" || die "vagentd rejected $CONF"
"$VAGENTCTL" -c "$CONF" db migrate >/dev/null || die "vagentctl db migrate failed"
sql <"$ROOT/sql/seed/example_dids.sql" || die "loading the example DIDs failed"

# --- vagentd -------------------------------------------------------------------------

: >"$LOG"
rm -f "$RUN/available"
"$VAGENTD" -f -c "$CONF" &
VAGENTD_PID=$!
i=0
until [ -e "$RUN/available" ] && "$VAGENTCTL" -r "$RUN" status -j 2>/dev/null |
	grep -q '"api_pid":[1-9]'; do
	if ! kill -0 "$VAGENTD_PID" 2>/dev/null; then
		show_log
		die "vagentd exited during start-up"
	fi
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		show_log
		die "vagentd did not start within 10 s"
	fi
	sleep 0.1
done
echo "demo: vagentd running, pid $VAGENTD_PID: AudioSocket 127.0.0.1:$PORT, api 127.0.0.1:$API_PORT"
echo
"$VAGENTCTL" -r "$RUN" status || die "vagentctl status failed"
echo

# --- call 1: echo ----------------------------------------------------------------------

uuid=$(uuidgen)
printf '{"did":"%s","cli":"447700900123"}\n' "$ECHO_DID" >"$CTX/va_$uuid.json"
echo "demo: call 1: the echo engine, $(soxi -D "$DEMO/echo.wav") s of speech"
"$CALLER" -a "127.0.0.1:$PORT" -u "$uuid" -w "$DEMO/echo.wav" \
	-r "$DEMO/echo-recording.wav" -j -q >"$DEMO/echo.json" ||
	{ show_log; die "the echo call failed"; }
"$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
print("  outcome %s: %d frames sent, %d heard back, playout jitter p99 %.2f ms"
      % (r["results"][0]["outcome"], r["frames_sent"], r["frames_received"],
         r["jitter_p99_ms"]))' "$DEMO/echo.json"
echo

# --- call 2: a booking ---------------------------------------------------------------------

uuid=$(uuidgen)
printf '{"did":"%s","cli":"%s"}\n' "$BOOK_DID" "$BOOK_CLI" >"$CTX/va_$uuid.json"
echo "demo: call 2: $BOOK_CLI rings $BOOK_DID, the local agent answers" \
	"($(soxi -D "$DEMO/caller.wav") s of caller audio, in real time)"
"$CALLER" -a "127.0.0.1:$PORT" -u "$uuid" -w "$DEMO/caller.wav" \
	-r "$DEMO/booking-recording.wav" -j -q >"$DEMO/booking.json" ||
	{ show_log; die "the booking call failed"; }
i=0
until sql -N -e "SELECT 1 FROM calls WHERE uuid='$uuid'" 2>/dev/null | grep -q 1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		show_log
		die "the call's record did not reach MariaDB"
	fi
	sleep 0.1
done
echo
echo "Transcript (turn: the caller's end of speech to the agent's first audio):"
sql -N -e "SELECT outcome, turn_count, barge_ins, latency, transcript FROM calls
	   WHERE uuid='$uuid'" | "$PYTHON" tests/demo_transcript.py
echo
echo "The booking, as the dispatch team sees it (ai_agent_bookings):"
sql -e "SELECT id, booking_ref, source, customer_name, customer_phone, postcode, address,
	       problem_description, trade_type, callout_fee, company_name, did_number,
	       outcome, dispatched, created_at
	FROM ai_agent_bookings WHERE call_uuid='$uuid'\G" | sed 's/^/  /'
echo "Recordings of what the callers heard:"
echo "  $DEMO/echo-recording.wav ($(soxi -D "$DEMO/echo-recording.wav") s)"
echo "  $DEMO/booking-recording.wav ($(soxi -D "$DEMO/booking-recording.wav") s)"
echo
"$PYTHON" tests/demo_board.py "$API_PORT" "$DEMO/api.key" "$DEMO/board.png" ||
	{ show_log; die "the board's screenshot failed"; }
echo "Logs: $LOG and $DEMO/emulators.log"

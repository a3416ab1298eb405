#!/bin/sh
# demo.sh - start a private vagentd and place two calls to it.
#
# Run by `make demo` (VAGENT_BUILD = the build directory). Everything lives
# in ./var/demo: generated audio, the configuration, the run directory, the
# log and the recordings of what the calls heard. Port 19099, so a system
# vagentd on 9099 is not disturbed.
#
#   call 1: echo engine; a spoken sentence is streamed in real time and
#           comes back; the recording is what the caller heard.
#   call 2: DID 442039962952, which vagent.conf routes to the playback
#           engine: vagentd plays a prompt, then hangs up.

set -eu

cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${VAGENT_BUILD:-$ROOT/build}
VAGENTD=$BUILD/vagentd
VAGENTCTL=$BUILD/vagentctl
CALLER=$BUILD/vagent-call
PYTHON=/usr/bin/python3

PORT=19099
DEMO=$ROOT/var/demo
RUN=$DEMO/run
CTX=$DEMO/ctx
CONF=$DEMO/vagent.conf
LOG=$DEMO/vagentd.log
PLAYBACK_DID=442039962952
PLAYBACK_CLI=447700900123

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

for b in "$VAGENTD" "$VAGENTCTL" "$CALLER"; do
	[ -x "$b" ] || die "$b is missing: build with 'make' (or run 'make demo')"
done
for t in espeak-ng sox soxi uuidgen "$PYTHON"; do
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
		while kill -0 "$old" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$old" 2>/dev/null && die "vagentd pid $old did not stop; kill it by hand"
	fi
fi

# --- audio -----------------------------------------------------------------

# say TEXT OUT.wav: speech as 8 kHz mono signed 16-bit, what AudioSocket carries.
say() {
	espeak-ng -w "$DEMO/tmp-speech.wav" "$1" ||
		die "espeak-ng could not synthesise speech"
	sox -V1 "$DEMO/tmp-speech.wav" -r 8000 -c 1 -b 16 -e signed-integer "$2" ||
		die "sox could not convert speech to 8 kHz"
	rm -f "$DEMO/tmp-speech.wav"
}

echo "demo: generating audio in $DEMO"
say "Hello, this is the vagent echo test. You should hear this sentence played back to you." \
	"$DEMO/echo.wav"
say "Thank you for calling. All our engineers are busy. Please call back later." \
	"$DEMO/prompt.wav"

# --- configuration -----------------------------------------------------------

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
engine = echo
context_dir = $CTX

[playback]
file = $DEMO/prompt.wav

[did:$PLAYBACK_DID]
engine = playback
EOF

"$VAGENTD" -t -c "$CONF" || die "vagentd rejected $CONF"

# --- start vagentd -------------------------------------------------------------

: >"$LOG"
rm -f "$RUN/available"
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
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$VAGENTD" -f -c "$CONF" &
VAGENTD_PID=$!

i=0
while [ ! -e "$RUN/available" ]; do
	if ! kill -0 "$VAGENTD_PID" 2>/dev/null; then
		show_log
		die "vagentd exited during start-up"
	fi
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		show_log
		die "vagentd did not write $RUN/available within 10 s"
	fi
	sleep 0.1
done
echo "demo: vagentd running, pid $VAGENTD_PID, listening on 127.0.0.1:$PORT"
echo
"$VAGENTCTL" -r "$RUN" status || die "vagentctl status failed"
echo

# summarize LABEL FILE.json: a few lines from vagent-call's JSON report.
summarize() {
	"$PYTHON" - "$1" "$2" <<'EOF'
import json, sys

label, path = sys.argv[1], sys.argv[2]
try:
    with open(path) as f:
        r = json.loads(f.readline())
except (OSError, ValueError) as e:
    sys.exit("demo: %s: no JSON report from vagent-call (%s)" % (label, e))

def ms(v):
    return "-" if v is None else "%.1f ms" % v

res = (r.get("results") or [{}])[0]
print("%s: outcome %s, %.1f s" % (label, res.get("outcome", "?"),
                                  (res.get("duration_ms") or 0) / 1000.0))
print("  frames sent %s, received %s" % (r.get("frames_sent"), r.get("frames_received")))
print("  jitter p50 %s, p99 %s, max %s (%s samples)" % (
    ms(r.get("jitter_p50_ms")), ms(r.get("jitter_p99_ms")),
    ms(r.get("jitter_max_ms")), r.get("jitter_samples")))
print("  first audio after %s" % ms(r.get("first_audio_p50_ms")))
EOF
}

# field FILE.json KEY: one field of the first call's result.
field() {
	"$PYTHON" -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline())
print((r.get("results") or [{}])[0].get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null || true
}

# --- call 1: echo --------------------------------------------------------------

echo "demo: call 1: echo engine, streaming $(soxi -D "$DEMO/echo.wav") s of speech"
rc=0
"$CALLER" -a "127.0.0.1:$PORT" -w "$DEMO/echo.wav" -r "$DEMO/echo-recording.wav" -j \
	>"$DEMO/echo.json" || rc=$?
[ $rc -eq 0 ] || echo "demo: vagent-call exited with status $rc" >&2
summarize "echo call" "$DEMO/echo.json" || { show_log; die "echo call failed"; }
ECHO_UUID=$(field "$DEMO/echo.json" uuid)
echo

# --- call 2: playback by DID ---------------------------------------------------

PLAY_UUID=$(uuidgen)
# What the dialplan does before AudioSocket(): the call's context by UUID.
printf '{"did":"%s","cli":"%s"}\n' "$PLAYBACK_DID" "$PLAYBACK_CLI" >"$CTX/va_$PLAY_UUID.json"
echo "demo: call 2: DID $PLAYBACK_DID (playback engine), uuid $PLAY_UUID"
rc=0
"$CALLER" -a "127.0.0.1:$PORT" -u "$PLAY_UUID" -R 8000 -d 20 \
	-r "$DEMO/playback-recording.wav" -j >"$DEMO/playback.json" || rc=$?
[ $rc -eq 0 ] || echo "demo: vagent-call exited with status $rc" >&2
summarize "playback call" "$DEMO/playback.json" || { show_log; die "playback call failed"; }
outcome=$(field "$DEMO/playback.json" outcome)
[ "$outcome" = server_hangup ] ||
	echo "demo: expected vagentd to hang up after the prompt, got '$outcome'" >&2
rm -f "$CTX/va_$PLAY_UUID.json"
echo

# --- results -------------------------------------------------------------------

echo "demo: recordings (what the caller heard):"
for f in "$DEMO/echo-recording.wav" "$DEMO/playback-recording.wav"; do
	if [ -s "$f" ]; then
		echo "  $f  $(soxi -D "$f") s"
	else
		echo "  $f  (missing)"
	fi
done
echo

echo "demo: vagentd's log for these calls:"
if [ -n "$ECHO_UUID" ]; then
	grep "call " "$LOG" | grep -e "$ECHO_UUID" -e "$PLAY_UUID" || true
else
	grep "call " "$LOG" | tail -n 10 || true
fi
echo

# --- stop ----------------------------------------------------------------------

echo "demo: stopping vagentd (SIGTERM)"
kill -TERM "$VAGENTD_PID"
rc=0
wait "$VAGENTD_PID" || rc=$?
VAGENTD_PID=
[ $rc -eq 0 ] || { show_log; die "vagentd exited with status $rc"; }
echo "demo: vagentd stopped. Listen to the recordings with: play FILE.wav"

/*
 * call_twilio.c - the Twilio Media Streams transport (protocols.md 6).
 *
 * Twilio dials in: the supervisor accepts the TCP connection on [twilio]
 * listen and hands it over like an AudioSocket one; here ws_server.h
 * completes the upgrade, after checking X-Twilio-Signature
 * when an auth token is configured. Then: connected, start (the call's
 * name is its callSid; DID and caller come from the customParameters
 * "did" and "caller" the api's TwiML set), media (8 kHz mu-law, each a
 * caller frame: the pacer's wake-up as on AudioSocket), dtmf, mark, stop.
 *
 * Outbound, Twilio buffers and plays what it is sent, so audio is not
 * paced frame by frame: on a tick, media messages of MSG_MS go out while
 * less than LEAD_MS would be unheard at Twilio; the ring keeps the rest,
 * so the engines' "still speaking" and "what was played" stay within
 * LEAD_MS of what the caller heard. The media are read in batches
 * (wrk_call.c) while the agent is silent, as Twilio needs nothing from us
 * then, and while it speaks once Twilio holds a whole lead: each batch
 * tops it up to a batch more than LEAD_MS (tw_holds).
 * A mark named by the stream position
 * it ends at follows every MARK_MS of audio and the last audio before a
 * tick with none. Twilio echoes a mark once the audio before it has played:
 * an echo is what the caller has surely heard (heard), and between echoes
 * the caller's position is estimated from the clock (caller_pos), so the
 * lead is counted to within a tick or two although marks come a few a
 * second (each echo wakes the worker on its own). A hangup after playout
 * waits for the last mark. On a cancelled reply (barge-in) one clear drops
 * Twilio's queue; the marks it echoes for that are ignored.
 *
 * Fails: a malformed message, media before start, or a format other than
 * 8 kHz mono mu-law ends the call with a logged reason.
 */
#include "call_rt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/twilio_sig.h"
#include "../common/ulaw.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "twilio_ms_wire.h"
#include "worker.h"
#include "ws_server.h"

#define RATE 8000
#define NS_PER_SAMPLE (NS_PER_S / RATE)
/*
 * The lead: what Twilio may hold unheard, by the clock. It is topped up a
 * whole message at a time once room for one opens, so Twilio holds between
 * LEAD_MS - MSG_MS and LEAD_MS: 160 ms of cover for the network's jitter,
 * and one media message every 80 ms of speech.
 */
#define MSG_MS 80
#define LEAD_MS 240
/*
 * Audio between marks. Each echo is a wake-up of its own (it comes between
 * the caller's frames), so marks go 4 a second, not one per message. The
 * clock fills in between, so the spacing costs no precision while Twilio
 * plays; if it stalls, the estimate stops at the next mark, so at most
 * LEAD_MS + MARK_MS is unheard at Twilio, and the clock is set right again
 * every MARK_MS. One per lead: usually one mark awaited at a time.
 */
#define MARK_MS 240
#define MSG_SAMPLES (RATE * MSG_MS / 1000)
#define LEAD_SAMPLES (RATE * LEAD_MS / 1000)
#define MARK_SAMPLES (RATE * MARK_MS / 1000)
#define PEND_MAX 16			/* marks awaited: one per MARK_MS, one per pause */
#define IN_MAX 4000			/* mu-law bytes of one inbound media message: 0.5 s */
#define OUT_QUEUE_MAX 256		/* messages the socket has not taken: Twilio stalled */
#define MARK_WAIT_NS (2 * NS_PER_S)	/* a mark awaited so long: marks are not coming */

struct tw_call {
	struct call *call;
	struct ws_srv *ws;
	char stream_sid[TW_SID_LEN];
	bool connected;
	/* Stream positions, samples. heard: the last mark echoed (or a clear). */
	uint64_t sent, heard, marked;
	uint64_t pend[PEND_MAX];	/* marks sent, not echoed, oldest first */
	unsigned npend;
	uint64_t from;			/* the clock's origin: the caller was at from ... */
	int64_t from_ns;		/* ... at from_ns (an echo, or audio after silence) */
	uint64_t cleared_at;		/* marks at or before this echo a clear */
	uint64_t marks, clears;
	uint64_t batch;			/* samples between the runtime's batches; 0: frame by frame */
	int64_t last_echo_ns;		/* a mark came back, or none was awaited */
	int64_t media_ns;		/* the last media message was read */
	bool no_marks;			/* the peer does not echo them: sent counts as heard */
	uint8_t in[IN_MAX];
	int16_t pcm[IN_MAX > MSG_SAMPLES ? IN_MAX : MSG_SAMPLES];
	char msg[TW_MEDIA_CAP(MSG_SAMPLES)];
};

static int send_msg(struct tw_call *t, size_t len)
{
	if (!len)
		return -EMSGSIZE;	/* our buffer: a bug, but not worth a crash */
	return ws_srv_send_text(t->ws, t->msg, len);
}

/* ---- outbound ---- */

/*
 * Where the caller is: the clock's origin and the time since, never past
 * what was sent nor past a mark Twilio has not echoed (it may have stalled,
 * or not have begun: the echo says so).
 */
static uint64_t caller_pos(const struct tw_call *t, int64_t now)
{
	uint64_t cap = t->npend ? t->pend[0] : t->sent;
	uint64_t pos = t->from;

	if (t->no_marks)
		return t->sent;		/* nothing to go by: what goes counts as heard */
	if (now > t->from_ns)
		pos += (uint64_t)((now - t->from_ns) / NS_PER_SAMPLE);
	return pos < cap ? pos : cap;
}

/*
 * The caller's audio since the last media message read: on its way, or in
 * the socket until the next batch. At most a batch and a message; a caller
 * whose media stopped coming is not run ahead of.
 */
static size_t caller_unread(const struct tw_call *t, int64_t now)
{
	uint64_t n = now > t->media_ns ? (uint64_t)(now - t->media_ns) / NS_PER_SAMPLE : 0;
	uint64_t cap = t->batch + RATE / 50;

	return (size_t)(n < cap ? n : cap);
}

static int send_media(struct tw_call *t, size_t n, int64_t now)
{
	uint8_t ulaw[MSG_SAMPLES];
	int rc;

	pcm_to_ulaw(t->pcm, n, ulaw);
	if ((rc = send_msg(t, tw_media(t->msg, sizeof(t->msg), t->stream_sid, ulaw, n))) < 0)
		return rc;
	if (call_rt_recording(t->call)) {	/* it keeps what the caller is played */
		/*
		 * Twilio plays what it holds without a gap and nothing while it
		 * holds nothing, and no audio plays before it is sent: audio
		 * after the agent's silence goes where the caller is now.
		 */
		call_rt_record_resume(t->call, caller_unread(t, now));
		ulaw_to_pcm(ulaw, n, t->pcm);
		call_rt_record_out(t->call, t->pcm, n);
	}
	t->sent += n;
	return 0;
}

/* A mark at what was sent, awaited until Twilio echoes it. */
static int send_mark(struct tw_call *t)
{
	char name[24];

	t->marked = t->sent;
	if (t->no_marks)
		return 0;	/* nobody would answer */
	if (t->npend == PEND_MAX)
		t->npend--;	/* the newest moves on: the clock waits for an older one */
	t->pend[t->npend++] = t->sent;
	snprintf(name, sizeof(name), "%" PRIu64, t->sent);
	t->marks++;
	return send_msg(t, tw_mark(t->msg, sizeof(t->msg), t->stream_sid, name));
}

/* A peer that never echoes would hold the agent's audio for ever. */
static void check_echoes(struct call *c, struct tw_call *t, int64_t now)
{
	if (!t->npend)
		t->last_echo_ns = now;	/* nothing awaited: the wait starts with the next mark */
	else if (now - t->last_echo_ns > MARK_WAIT_NS && !t->no_marks) {
		log_warn("call", call_uuid(c), "twilio: no mark echoed for %d s; pacing without",
			 (int)(MARK_WAIT_NS / NS_PER_S));
		t->no_marks = true;
		t->npend = 0;
	}
	if (t->no_marks)
		t->heard = t->sent;
	if (t->sent == t->heard) {	/* Twilio holds nothing: what goes now plays from now */
		t->from = t->sent;
		t->from_ns = now;
	}
}

static int tw_pace(struct call *c, bool *drained)
{
	struct tw_call *t = call_rt_tp(c);
	struct ring *out = call_ring_out(c);
	int64_t now = mono_ns();
	bool dry = !ring_avail(out);
	int rc = 0;

	check_echoes(c, t, now);
	while (rc == 0 && t->sent + MSG_SAMPLES <= caller_pos(t, now) + LEAD_SAMPLES + t->batch &&
	       ring_avail(out)) {
		size_t n = call_rt_take(c, t->pcm, MSG_SAMPLES);
		if (!n)
			break;
		rc = send_media(t, n, now);
		if (rc == 0 && t->sent - t->marked >= MARK_SAMPLES)
			rc = send_mark(t);
	}
	/*
	 * A tick with nothing new: the audio stopped, for a pause or for good,
	 * and its end must echo. Not as soon as the ring runs dry: a reply's
	 * audio often comes just in time, a little each tick. Twilio still
	 * holds what went on the tick before, so the echo comes no later.
	 */
	if (rc == 0 && dry && t->sent > t->marked)
		rc = send_mark(t);
	*drained = !ring_avail(out) && t->sent == t->heard;
	if (rc == 0 && ws_srv_queued(t->ws) > OUT_QUEUE_MAX)
		rc = -ENOBUFS;
	return rc;
}

static void tw_flush(struct call *c)
{
	struct tw_call *t = call_rt_tp(c);
	int64_t now;

	if (t->sent == t->heard)
		return;		/* Twilio holds nothing of ours */
	if (send_msg(t, tw_clear(t->msg, sizeof(t->msg), t->stream_sid)) < 0)
		return;
	t->clears++;
	t->cleared_at = t->sent;
	/* What was unheard never will be; the next audio plays from when it goes. */
	now = mono_ns();
	call_rt_record_unplayed(c, (size_t)(t->sent - caller_pos(t, now)));
	t->heard = t->marked = t->from = t->sent;
	t->from_ns = now;
	t->npend = 0;
}

static void tw_close(struct call *c)
{
	struct tw_call *t = call_rt_tp(c);

	if (call_rt_begun(c))
		log_info("call", call_uuid(c), "twilio: %" PRIu64 " marks sent, %" PRIu64
			 " clears, %.1f s of agent audio heard", t->marks, t->clears,
			 (double)t->heard / RATE);
	ws_srv_close(t->ws);	/* queued messages, then a normal close */
	free(t);
}

static void tw_hold(struct call *c, int ms)
{
	struct tw_call *t = call_rt_tp(c);

	t->batch = (uint64_t)ms * RATE / 1000;
	ws_srv_hold(t->ws, ms > 0);
}

/*
 * Batches may go on while Twilio holds nothing of ours and nothing waits
 * (audio after silence is sent at once: call_play_now), or a whole lead,
 * as a tick's top-up leaves it: the batches' top-ups, a batch larger,
 * keep as much unheard at Twilio between them. An echo read a batch late
 * makes the clock lag by as much, which that batch more covers too.
 */
static bool tw_holds(struct call *c, int ms)
{
	struct tw_call *t = call_rt_tp(c);

	if (t->sent == t->heard && !ring_avail(call_ring_out(c)))
		return true;
	return ms <= LEAD_MS - MSG_MS &&
	       t->sent - caller_pos(t, mono_ns()) >= LEAD_SAMPLES - MSG_SAMPLES;
}

static void tw_read(struct call *c)
{
	struct tw_call *t = call_rt_tp(c);

	ws_srv_read(t->ws);
}

static const struct call_transport twilio = {
	.name = "twilio",
	.pace = tw_pace,
	.flush = tw_flush,
	.close = tw_close,	/* ending is closing the socket: Twilio goes on with its TwiML */
	.hold = tw_hold,	/* Twilio buffers what it plays: a silent agent sends nothing */
	.read = tw_read,
	.holds = tw_holds,
};

/* ---- inbound ---- */

static bool on_upgrade(void *arg, const char *path, const char *sig)
{
	struct tw_call *t = arg;
	const struct conf *conf = call_conf(t->call);
	const char *token = conf->secrets->twilio_token;

	if (call_relay_path(path)) {	/* ConversationRelay: the call is the relay's now */
		bool ok = call_relay_take(t->call, t->ws, sig);
		if (ok)
			free(t);
		return ok;
	}
	if (!token[0] || twilio_sig_valid(token, conf->twilio_stream_url, NULL, NULL, 0, sig))
		return true;
	call_rt_end(t->call, CALL_OUTCOME_FAILED, false, "twilio: upgrade of %.100s refused: "
		    "%s X-Twilio-Signature", path, sig ? "wrong" : "no");
	return false;
}

static void on_start(struct tw_call *t, const struct tw_msg *m)
{
	struct call *c = t->call;

	if (call_rt_begun(c)) {
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio: protocol: a second start");
		return;
	}
	if (strcmp(m->encoding, "audio/x-mulaw") || m->rate != RATE || m->channels != 1) {
		call_rt_end(c, CALL_OUTCOME_FAILED, false, "twilio: media format %s %d Hz x%d, "
			    "not audio/x-mulaw 8000 Hz mono", m->encoding, m->rate, m->channels);
		return;
	}
	memcpy(t->stream_sid, m->stream_sid, sizeof(t->stream_sid));
	call_rt_set_vars(c, json_incref(m->vars));
	call_rt_begin(c, m->call_sid, m->did, m->caller);
}

static void on_media(struct tw_call *t, const struct tw_msg *m, int64_t now)
{
	struct call *c = t->call;

	if (!call_rt_begun(c)) {
		call_rt_end(c, CALL_OUTCOME_FAILED, false, "twilio: protocol: media before start");
		return;
	}
	if (!m->audio_len)
		return;
	ulaw_to_pcm(t->in, m->audio_len, t->pcm);
	call_rt_audio(c, RATE, (const uint8_t *)t->pcm, m->audio_len);
	t->media_ns = now;
	call_rt_rx(c, now, true);
}

/* An echoed mark: its name is the stream position the caller has now heard. */
static void on_mark(struct tw_call *t, const struct tw_msg *m)
{
	char *end;
	uint64_t pos = strtoull(m->mark, &end, 10);
	unsigned done = 0;

	if (*end || end == m->mark || pos > t->sent || t->no_marks)
		return;		/* not one of ours, or too late */
	if (pos <= t->cleared_at || pos <= t->heard)
		return;		/* a clear's echo */
	t->heard = t->from = pos;
	t->from_ns = t->last_echo_ns = mono_ns();
	while (done < t->npend && t->pend[done] <= pos)
		done++;
	t->npend -= done;
	memmove(t->pend, t->pend + done, t->npend * sizeof(t->pend[0]));
}

static void on_event(struct tw_call *t, const struct tw_msg *m, int64_t now)
{
	struct call *c = t->call;

	switch (m->ev) {
	case TW_CONNECTED:
		t->connected = true;
		return;
	case TW_START:
		on_start(t, m);
		return;
	case TW_MEDIA:
		on_media(t, m, now);
		return;
	case TW_DTMF:
		if (call_rt_begun(c))
			call_rt_dtmf(c, m->digit);
		return;
	case TW_MARK:
		on_mark(t, m);
		return;
	case TW_STOP:
		call_rt_end(c, CALL_OUTCOME_OK, false, "caller hung up (Twilio stop)");
		return;
	case TW_OTHER:
		return;
	}
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct tw_call *t = arg;
	struct call *c = t->call;
	struct tw_msg m;
	const char *why = NULL;
	int64_t now = mono_ns();

	if (call_rt_ended(c))
		return;
	if (binary || tw_parse(data, len, &m, t->in, sizeof(t->in), &why) < 0) {
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio: protocol: %s",
			    binary ? "a binary message" : why);
		return;
	}
	if (m.ev != TW_CONNECTED && m.ev != TW_OTHER && t->stream_sid[0] &&
	    strcmp(m.stream_sid, t->stream_sid)) {
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio: protocol: streamSid changed");
		json_decref(m.vars);
		return;
	}
	call_rt_rx(c, now, false);
	on_event(t, &m, now);
	json_decref(m.vars);
}

static void on_close(void *arg, const char *why)
{
	struct tw_call *t = arg;

	call_rt_end(t->call, CALL_OUTCOME_OK, false, "twilio: stream closed (%s)", why);
}

static const struct ws_srv_handlers handlers = {
	.on_upgrade = on_upgrade,
	.on_message = on_message,
	.on_close = on_close,
};

int call_start_twilio(struct worker *w, int fd, uint64_t seq, int64_t t_accept_ns)
{
	struct tw_call *t = calloc(1, sizeof(*t));
	struct ws_loop *loop = worker_ws(w);
	int rc;

	if (!t || !loop) {
		free(t);
		close(fd);
		return -ENOMEM;
	}
	if ((rc = call_rt_new(&t->call, w, seq, t_accept_ns, &twilio, t)) < 0) {
		free(t);
		close(fd);
		return rc;
	}
	/* On failure the call ends through its own path, which frees t. */
	if ((rc = ws_srv_adopt(&t->ws, loop, fd, &handlers, t)) < 0)
		call_rt_end(t->call, CALL_OUTCOME_FAILED, false, "twilio: cannot adopt the socket "
			    "(%s)", strerror(-rc));
	return 0;
}

/*
 * tts_elevenlabs.c - ElevenLabs streaming TTS over the multi-context
 * websocket (protocols.md 4.4), the voice of the seed's "local v1" stack.
 *
 * Why multi-context: one connection serves every reply of the call, each
 * reply its own context "<call>-<n>" (n the playout's number), so a
 * barge-in closes one context (close_context) and the next reply starts
 * at once on the same socket; single-context stream-input would need a
 * new connection per reply, the cold start the seed paid per sentence.
 *
 * A reply's text goes out in chunks (tts_xi_wire.h): the first clause or
 * first few words flushed at once, then clause by clause, each ending in
 * one space; at the reply's end the rest is flushed and the context
 * closed, after which ElevenLabs sends its last audio and isFinal (the
 * done). The output format matches the call's rate (ulaw_8000, decoded
 * through a table, or pcm_RATE), so the audio goes to the call's playout
 * on the websocket thread with no resampling; the playout owns everything
 * after that (playout.h).
 *
 * Keep-alive: inactivity_timeout=180 covers any reply (the model's own
 * timeout is far shorter) and a context exists only while a reply does,
 * so nothing is sent to keep one alive. A socket that ElevenLabs closes
 * while no reply is in flight is reopened by the next reply, quietly.
 * At most 5 contexts may be open on a socket; closed ones count until
 * their isFinal, so after a run of barge-ins the socket is replaced
 * rather than refused.
 *
 * start() only returns a code; every event comes from the main loop. A
 * refusal that asking again cannot change (http_status.h, or an error
 * code such as invalid_api_key) is on_error(fatal), the last callback.
 */
#include "tts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/conf.h"
#include "../common/log.h"
#include "http_status.h"
#include "playout.h"
#include "tts_xi_wire.h"
#include "ws.h"

#define XI_CONTEXTS_MAX 5	/* per socket (protocols.md 4.4) */

struct tts {
	struct ws_loop *loop;
	struct ws_conn *conn;
	const struct conf *conf;
	struct playout *po;
	const struct tts_events *ev;
	void *arg;
	char uuid[40];
	char tag[16];			/* short call id for context ids */
	char auth[300];
	char url[1024];
	struct xi_format fmt;
	struct xi_voice voice;
	bool stopping;
	bool dead;			/* on_error(fatal) was called: nothing follows */
	int conns;			/* connections not yet gone */
	int open_ctxs;			/* contexts begun on this socket, no isFinal yet */
	char error[200];		/* ElevenLabs' last error message, for the close */
	bool error_permanent;
	/* The reply being sent (main loop). */
	uint32_t ctx;			/* 0: none, or its connection died */
	bool ctx_open, ctx_closed;	/* init sent; close_context sent */
	struct xi_chunker chunks;
	char chunk[XI_CHUNK_MAX + 2];
	struct buf pcm;			/* websocket thread: a message's decoded audio */
};

static void ctx_id(const struct tts *t, uint32_t n, char *out, size_t len)
{
	snprintf(out, len, "%s-%u", t->tag, n);
}

/* ---- websocket thread ---- */

static void audio_chunk(struct tts *t, uint32_t ctx, const char *b64, size_t len)
{
	uint8_t *out;

	buf_reset(&t->pcm);
	if (buf_reserve(&t->pcm, XI_AUDIO_CAP(len), &out) < 0)
		return;
	long n = xi_audio_decode(b64, len, t->fmt.ulaw, out, XI_AUDIO_CAP(len));
	if (n > 0)
		playout_audio(t->po, ctx, out, (size_t)n);	/* not live: dropped there */
}

/* Every message. Audio goes to the playout; what the main loop acts on
 * (finals, errors) goes on. */
static bool on_message_thread(void *arg, const char *data, size_t len, bool binary)
{
	struct tts *t = arg;
	struct xi_msg m;

	if (binary || xi_msg_parse(&m, data, len, t->tag) < 0)
		return false;
	if (m.ctx && m.audio)
		audio_chunk(t, m.ctx, m.audio, m.audio_len);
	if (m.ctx && m.final)
		playout_done(t->po, m.ctx);	/* a reply waiting behind it may go */
	bool forward = m.final || m.error;
	xi_msg_clear(&m);
	return forward;
}

static void on_wake_thread(void *arg)
{
	struct tts *t = arg;

	playout_push(t->po);
}

/* ---- main loop ---- */

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct tts *t = arg;
	struct xi_msg m;

	if (binary || t->dead || xi_msg_parse(&m, data, len, t->tag) < 0)
		return;
	if (m.final && m.ctx && t->open_ctxs > 0)
		t->open_ctxs--;
	if (m.error) {
		/* The close that follows reports it, once. */
		snprintf(t->error, sizeof(t->error), "%s", m.error);
		t->error_permanent = xi_error_permanent(m.code);
	} else if (m.final && m.ctx && m.ctx == playout_current(t->po)) {
		t->ev->on_done(t->arg, m.ctx);	/* a cancelled reply's final means nothing */
	}
	xi_msg_clear(&m);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct tts *t = arg;
	char why[300];
	bool permanent = http_status_permanent(http_status) || t->error_permanent;
	/* A reply begun but not yet sent lost nothing: its text opens the next
	 * connection. */
	bool busy = t->open_ctxs > 0 || (t->ctx && t->ctx_open && !t->ctx_closed);

	ws_close(t->conn);
	t->conn = NULL;
	t->open_ctxs = 0;
	t->ctx_open = t->ctx_closed = false;
	if (t->stopping || t->dead)
		return;
	snprintf(why, sizeof(why), "ElevenLabs closed (code %d, HTTP %d: %s)%s%s", code,
		 http_status, t->error[0] ? t->error : reason, t->error[0] ? " " : "",
		 t->error[0] && reason[0] ? reason : "");
	t->error[0] = '\0';
	if (!busy && !permanent) {
		log_info("tts", t->uuid, "%s while idle; the next reply reopens it", why);
		return;
	}
	playout_lost(t->po);	/* no more audio of those */
	t->ctx = 0;		/* the rest of this reply has nowhere to go */
	log_warn("tts", t->uuid, "%s; %s", why, permanent ? "giving up" : "reconnecting");
	t->dead = permanent;
	t->ev->on_error(t->arg, why, permanent);
}

static void tts_free(struct tts *t)
{
	buf_free(&t->pcm);
	playout_detach(t->po);
	free(t);
}

static void on_gone(void *arg)
{
	struct tts *t = arg;

	if (--t->conns == 0 && t->stopping)
		tts_free(t);	/* no hook can run for us any more */
}

/* While a reply's audio is queued, the socket waits for the call's tick. */
static bool may_wait(void *arg)
{
	struct tts *t = arg;

	return playout_may_wait(t->po, t->fmt.rate);
}

static const struct ws_handlers handlers = {
	.on_message_thread = on_message_thread, .on_wake_thread = on_wake_thread,
	.may_wait = may_wait, .on_message = on_message, .on_close = on_close,
	.on_gone = on_gone,
};

static int ensure_open(struct tts *t)
{
	const char *headers[] = { t->auth, NULL };

	if (t->conn)
		return 0;
	if (t->dead)
		return -ENOTCONN;
	int rc = ws_open(&t->conn, t->loop, t->url, headers, &handlers, t);
	t->conns += rc == 0;
	return rc;
}

/* Sends msg (malloc'd JSON text, NULL without memory) and frees it. */
static int send_text(struct tts *t, char *msg)
{
	int rc = !msg ? -ENOMEM : ensure_open(t);

	if (rc == 0)
		rc = ws_send_text(t->conn, msg, strlen(msg));
	free(msg);
	return rc;
}

/* The reply's context on this socket: its first message carries the
 * settings (they are refused later, protocols.md 4.6). */
static int ctx_ensure(struct tts *t, const char *id)
{
	if (t->ctx_open)
		return 0;
	int rc = send_text(t, xi_msg_init(id, &t->voice));
	if (rc == 0) {
		t->ctx_open = true;
		t->open_ctxs++;
	}
	return rc;
}

static int send_chunk(struct tts *t, const char *text, size_t len, bool flush)
{
	char id[32];

	ctx_id(t, t->ctx, id, sizeof(id));
	int rc = ctx_ensure(t, id);
	return rc ? rc : send_text(t, xi_msg_text(id, text, len, flush));
}

/* Main loop: the playout has room again, or a reply may go: push on the thread. */
static void wake(void *arg)
{
	struct tts *t = arg;

	ws_loop_wake(t->loop);
}

static int settings(struct tts *t, const struct conf *c, int rate)
{
	int rc = xi_format_for(c->tts_xi_format, rate, &t->fmt);

	if (rc == 0)
		rc = xi_url(t->url, sizeof(t->url), c->tts_xi_url, c->tts_xi_voice, c->tts_xi_model, &t->fmt);
	t->voice.stability = c->tts_xi_stability;
	t->voice.similarity_boost = c->tts_xi_similarity;
	t->voice.speed = c->tts_xi_speed;
	memcpy(t->voice.schedule, c->tts_xi_schedule, sizeof(t->voice.schedule));
	snprintf(t->auth, sizeof(t->auth), "xi-api-key: %s", c->secrets->xi_key);
	return rc;
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->conf = c;
	t->po = po;
	playout_attach(po, wake, t);	/* until tts_free(): the thread's hooks use it */
	buf_init(&t->pcm, PLAYOUT_WAIT_MAX);
	t->ev = ev;
	t->arg = arg;
	snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
	snprintf(t->tag, sizeof(t->tag), "%.8s", uuid[0] ? uuid : "call");
	if ((rc = settings(t, c, rate)) < 0 || (rc = ensure_open(t)) < 0) {
		/* open now: the greeting needs it */
		log_warn("tts", uuid, "cannot open the ElevenLabs connection (%s at %d Hz): %s",
			 c->tts_xi_format, rate, strerror(-rc));
		explicit_bzero(t->auth, sizeof(t->auth));
		tts_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static uint32_t begin(struct tts *t)
{
	/* Closed contexts count until their isFinal: a socket full of them
	 * (barge-in after barge-in) is replaced, the new reply not refused. */
	if (t->conn && t->open_ctxs >= XI_CONTEXTS_MAX - 1) {
		log_info("tts", t->uuid, "%d ElevenLabs contexts still open: new connection",
			 t->open_ctxs);
		ws_close(t->conn);
		t->conn = NULL;
		t->open_ctxs = 0;
		playout_lost(t->po);
	}
	xi_chunker_reset(&t->chunks);
	t->ctx_open = t->ctx_closed = false;
	t->ctx = playout_begin(t->po);
	return t->ctx;
}

static int text(struct tts *t, const char *s, size_t len)
{
	bool flush;
	size_t n;
	int rc = 0;

	if (t->dead)
		return -ENOTCONN;
	while (t->ctx && !t->ctx_closed && len && rc == 0) {
		size_t took = xi_chunker_add(&t->chunks, s, len);
		s += took;
		len -= took;
		while (rc == 0 && (n = xi_chunker_take(&t->chunks, false, t->chunk, &flush)))
			rc = send_chunk(t, t->chunk, n, flush);
	}
	return rc;
}

static int finish(struct tts *t)
{
	char id[32];
	bool flush;
	int rc;

	if (t->dead)
		return -ENOTCONN;
	if (!t->ctx || t->ctx_closed)
		return 0;
	/* Even an empty reply opens its context: its isFinal is the done. */
	size_t n = xi_chunker_take(&t->chunks, true, t->chunk, &flush);
	rc = send_chunk(t, t->chunk, n, true);
	ctx_id(t, t->ctx, id, sizeof(id));
	if (rc == 0)
		rc = send_text(t, xi_msg_close(id));
	t->ctx_closed = true;
	return rc;
}

static void cancel(struct tts *t)
{
	char id[32];
	/* First none of its audio plays, then tell ElevenLabs. */
	uint32_t n = playout_cancel(t->po);

	if (!n || n != t->ctx)
		return;		/* nothing playing, or cancelled already: harmless */
	if (t->conn && t->ctx_open && !t->ctx_closed) {
		ctx_id(t, n, id, sizeof(id));
		send_text(t, xi_msg_close(id));
	}
	t->ctx_closed = true;
}

static void stop(struct tts *t)
{
	if (!t)
		return;
	t->stopping = true;
	explicit_bzero(t->auth, sizeof(t->auth));
	ws_close(t->conn);
	t->conn = NULL;
	if (t->conns == 0)
		tts_free(t);	/* else on_gone does, once the thread is done with us */
}

const struct tts_ops tts_elevenlabs = {
	"elevenlabs", start, begin, text, finish, cancel, stop,
};

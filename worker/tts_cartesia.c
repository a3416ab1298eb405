/*
 * tts_cartesia.c - Cartesia streaming TTS (protocols.md section 3).
 *
 * Every LLM token goes into the reply's context with continue:true; the
 * reply ends with an empty transcript and continue:false; barge-in sends
 * cancel. Output is raw pcm_s16le at the call's rate, so the audio needs
 * no conversion: base64-decoded on the websocket thread, straight into
 * the agent ring.
 *
 * Context ids are "<call>-<n>", n counting replies; the current n and the
 * last cancelled one are atomics the main loop moves and the websocket
 * thread reads. A chunk of a cancelled context is dropped (its late chunks
 * keep coming for a while). A reply that follows one not cancelled (the
 * sentence said before a tool call, then the answer after it) must not cut
 * the first short: its audio is held until the earlier context's done has
 * come and its audio is in the ring. Before each write the thread records
 * which context it writes for (writing), so the pacer can tell when the
 * ring may hold a stale context's audio that raced a cancel, and flush it.
 * Audio that does not fit the ring waits here (the ring holds seconds,
 * a reply can be longer) and is pushed in as the pacer frees space.
 *
 * start() only returns a code; every event comes from the main loop. A
 * refusal that asking again cannot change (http_status.h) is on_error(fatal),
 * the last callback: no connection is opened after it. What a message
 * means is tts_cart_wire.c's.
 */
#include "tts.h"

#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../ipc/ring.h"
#include "http_status.h"
#include "tts_cart_wire.h"
#include "tts_pcm.h"
#include "ws.h"

/* Websocket thread: one context's audio not yet in the ring. */
struct tts_buf {
	struct tts_pcm a;
	uint32_t ctx;
	bool done;			/* its "done" has come: no more audio */
};

struct tts {
	struct ws_loop *loop;
	struct ws_conn *conn;
	const struct conf *conf;
	struct ring *ring;
	const struct tts_events *ev;
	void *arg;
	char uuid[40];
	char tag[16];			/* short call id for context ids */
	int rate;
	char auth[300], version[64];
	json_t *base;			/* the fields every message of a context repeats */
	bool stopping;
	bool dead;			/* on_error(fatal) was called: nothing follows */
	int conns;			/* connections not yet gone */

	_Atomic uint32_t ctx;		/* main writes: the current reply (0: none) */
	_Atomic uint32_t dropped;	/* main writes: the last cancelled reply */
	_Atomic uint32_t lost;		/* main writes: the last reply whose socket closed */
	_Atomic uint32_t writing;	/* thread writes: the context it last wrote for */
	_Atomic uint64_t written;	/* thread: samples of ctx in the ring */
	_Atomic bool backlog;		/* thread: audio waits here to enter the ring */

	/* Websocket thread only. */
	uint32_t first_seen;		/* the context whose first chunk was reported */
	struct tts_buf play;		/* the context going into the ring */
	struct tts_buf next;		/* the one after it, until play is done */
	uint8_t *pcm;
	size_t pcm_cap;
};

static void ctx_id(const struct tts *t, uint32_t n, char *out, size_t len)
{
	snprintf(out, len, "%s-%u", t->tag, n);
}

/* Thread: audio of this context may still play (not cancelled). */
static bool live(struct tts *t, uint32_t ctx)
{
	return ctx && ctx > atomic_load(&t->dropped) && ctx <= atomic_load(&t->ctx);
}

static void buf_reset(struct tts_buf *b, uint32_t ctx)
{
	tts_pcm_reset(&b->a);
	b->ctx = ctx;
	b->done = false;
}

/* Thread: play has nothing more to give; the next context may start. */
static bool play_over(struct tts *t)
{
	return !t->play.a.len && (t->play.done || !live(t, t->play.ctx) ||
				t->play.ctx <= atomic_load(&t->lost));
}

/* Thread: moves what fits of the waiting audio into the ring. */
static void push(struct tts *t)
{
	if (!live(t, t->play.ctx))
		tts_pcm_reset(&t->play.a);	/* a cancelled reply's leftovers */
	if (!live(t, t->next.ctx))
		buf_reset(&t->next, 0);
	if (play_over(t) && t->next.ctx) {
		struct tts_buf b = t->play;
		t->play = t->next;
		t->next = b;
		buf_reset(&t->next, 0);
	}
	if (t->play.a.len) {
		atomic_store(&t->writing, t->play.ctx);
		size_t n = ring_write(t->ring, t->play.a.s, t->play.a.len);
		if (t->play.ctx == atomic_load(&t->ctx))
			atomic_fetch_add(&t->written, n);
		tts_pcm_consume(&t->play.a, n);
	}
	atomic_store(&t->backlog, t->play.a.len || t->next.a.len);
}

/* Thread: the buffer a live context's audio goes to, NULL if none can
 * take it (a third reply while two are unfinished keeps the newest). */
static struct tts_buf *buf_for(struct tts *t, uint32_t ctx)
{
	if (ctx == t->play.ctx)
		return &t->play;
	if (play_over(t) && !t->next.ctx) {
		buf_reset(&t->play, ctx);
		return &t->play;
	}
	if (ctx < t->next.ctx)
		return NULL;
	if (ctx != t->next.ctx)
		buf_reset(&t->next, ctx);
	return &t->next;
}

static bool audio_chunk(struct tts *t, uint32_t ctx, const char *b64, size_t len)
{
	size_t need = CART_AUDIO_CAP(len);
	struct tts_buf *b = buf_for(t, ctx);

	if (!b)
		return false;
	if (need > t->pcm_cap) {
		uint8_t *p = realloc(t->pcm, need);
		if (!p)
			return false;
		t->pcm = p;
		t->pcm_cap = need;
	}
	long n = cart_audio_decode(b64, len, t->pcm, t->pcm_cap);
	if (n <= 0 || tts_pcm_add(&b->a, t->pcm, (size_t)n) < 0)
		return false;
	push(t);
	bool first = t->first_seen != ctx;
	t->first_seen = ctx;
	return first;	/* tell the main loop about the first chunk only */
}

static void context_done(struct tts *t, uint32_t ctx)
{
	if (ctx == t->play.ctx)
		t->play.done = true;
	else if (ctx == t->next.ctx)
		t->next.done = true;
	push(t);
}

/* Websocket thread: every message. Audio stays here; the rest goes on. */
static bool on_message_thread(void *arg, const char *data, size_t len, bool binary)
{
	struct tts *t = arg;
	struct cart_msg m;
	bool forward = true;

	if (binary || cart_msg_parse(&m, data, len, t->tag) < 0)
		return false;
	if (m.kind == CART_CHUNK)
		forward = live(t, m.ctx) && audio_chunk(t, m.ctx, m.audio, m.audio_len);
	else if ((m.kind == CART_DONE || m.kind == CART_ERROR) && live(t, m.ctx))
		context_done(t, m.ctx);
	else if (m.kind == CART_IGNORED)
		forward = false;	/* nothing the main loop acts on */
	cart_msg_clear(&m);
	return forward;
}

static void on_wake_thread(void *arg)
{
	push(arg);
}

/* ---- main loop ---- */

static void on_words(struct tts *t, const struct cart_msg *m)
{
	const char *w[CART_WORDS_MAX];
	double e[CART_WORDS_MAX];
	size_t n = cart_msg_words(m, w, e, CART_WORDS_MAX);

	if (n)
		t->ev->on_words(t->arg, m->ctx, w, e, n);
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct tts *t = arg;
	struct cart_msg m;

	if (binary || t->dead || cart_msg_parse(&m, data, len, t->tag) < 0)
		return;
	if (m.ctx && m.ctx != atomic_load(&t->ctx)) {
		/* A cancelled reply: its late done or words mean nothing now. */
	} else if (m.kind == CART_CHUNK) {
		t->ev->on_first_audio(t->arg, m.ctx);
	} else if (m.kind == CART_DONE) {
		t->ev->on_done(t->arg, m.ctx);
	} else if (m.kind == CART_TIMESTAMPS) {
		on_words(t, &m);
	} else if (m.kind == CART_ERROR) {
		log_warn("tts", t->uuid, "Cartesia error on context %u: %.200s", m.ctx, m.error);
		t->ev->on_error(t->arg, m.error, false);
	}
	cart_msg_clear(&m);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct tts *t = arg;
	char why[200];
	bool permanent = http_status_permanent(http_status);

	ws_close(t->conn);
	t->conn = NULL;
	if (t->stopping || t->dead)
		return;
	atomic_store(&t->lost, atomic_load(&t->ctx));	/* no more audio of those */
	ws_loop_wake(t->loop);
	snprintf(why, sizeof(why), "Cartesia closed (code %d, HTTP %d: %s)", code, http_status,
		 reason);
	log_warn("tts", t->uuid, "%s; %s", why, permanent ? "giving up" : "reconnecting");
	t->dead = permanent;
	t->ev->on_error(t->arg, why, permanent);
	/* The next reply opens a new connection (contexts die with the socket). */
}

static void tts_free(struct tts *t)
{
	json_decref(t->base);
	tts_pcm_free(&t->play.a);
	tts_pcm_free(&t->next.a);
	free(t->pcm);
	free(t);
}

static void on_gone(void *arg)
{
	struct tts *t = arg;

	if (--t->conns == 0 && t->stopping)
		tts_free(t);	/* no hook can run for us any more */
}

static const struct ws_handlers handlers = {
	.on_message_thread = on_message_thread, .on_wake_thread = on_wake_thread,
	.on_message = on_message, .on_close = on_close, .on_gone = on_gone,
};

static int ensure_open(struct tts *t)
{
	const char *headers[] = { t->auth, t->version, NULL };

	if (t->conn)
		return 0;
	if (t->dead)
		return -ENOTCONN;
	int rc = ws_open(&t->conn, t->loop, t->conf->tts_url, headers, &handlers, t);
	t->conns += rc == 0;
	return rc;
}

static int send_json(struct tts *t, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int rc = !text ? -ENOMEM : ensure_open(t);

	if (rc == 0)
		rc = ws_send_text(t->conn, text, strlen(text));
	free(text);
	json_decref(msg);
	return rc;
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct ring *ring, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	int rc = -ENOMEM;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->conf = c;
	t->ring = ring;
	t->ev = ev;
	t->arg = arg;
	t->rate = rate;
	snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
	snprintf(t->tag, sizeof(t->tag), "%.8s", uuid[0] ? uuid : "call");
	snprintf(t->auth, sizeof(t->auth), "X-API-Key: %s", c->secrets->tts_key);
	snprintf(t->version, sizeof(t->version), "Cartesia-Version: %s", c->tts_version);
	t->base = json_pack("{s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s, s:i}, s:b}",
			    "model_id", c->tts_model, "voice", "mode", "id", "id", c->tts_voice,
			    "language", c->tts_language, "output_format", "container", "raw",
			    "encoding", "pcm_s16le", "sample_rate", rate, "add_timestamps", 1);
	if (!t->base || (rc = ensure_open(t)) < 0) {	/* open now: the greeting needs it */
		log_warn("tts", uuid, "cannot open the Cartesia connection: %s", strerror(-rc));
		explicit_bzero(t->auth, sizeof(t->auth));
		tts_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static uint32_t begin(struct tts *t)
{
	uint32_t n = atomic_load(&t->ctx) + 1;

	if (n == 0)
		n = 1;
	atomic_store(&t->written, 0);
	atomic_store(&t->ctx, n);
	return n;
}

static json_t *message(struct tts *t, const char *text, size_t len, bool more)
{
	char id[32];
	json_t *m = json_deep_copy(t->base);

	ctx_id(t, atomic_load(&t->ctx), id, sizeof(id));
	json_object_set_new(m, "context_id", json_string(id));
	json_object_set_new(m, "transcript", json_stringn(text, len));
	json_object_set_new(m, "continue", json_boolean(more));
	return m;
}

static int text(struct tts *t, const char *s, size_t len)
{
	return send_json(t, message(t, s, len, true));
}

static int finish(struct tts *t)
{
	return send_json(t, message(t, "", 0, false));
}

static void cancel(struct tts *t)
{
	char id[32];
	uint32_t n = atomic_load(&t->ctx);

	if (!n || n == atomic_load(&t->dropped))
		return;		/* nothing playing, or cancelled already: harmless */
	ctx_id(t, n, id, sizeof(id));
	/* First stop accepting its audio, then tell Cartesia. */
	atomic_store(&t->dropped, n);
	atomic_store(&t->ctx, n + 1 ? n + 1 : 1);	/* nothing will match it now */
	if (t->conn)
		send_json(t, json_pack("{s:s, s:b}", "context_id", id, "cancel", 1));
}

static uint64_t samples(struct tts *t)
{
	return atomic_load(&t->written);
}

static void tick(struct tts *t, bool *stale, bool *backlog)
{
	uint32_t w = atomic_load(&t->writing);

	/* The last audio written was a cancelled reply's: none of it may play. */
	*stale = w != 0 && w <= atomic_load(&t->dropped);
	*backlog = atomic_load(&t->backlog);
	if (*backlog)
		ws_loop_wake(t->loop);
}

static void stop(struct tts *t)
{
	if (!t)
		return;
	t->stopping = true;
	atomic_store(&t->ctx, 0);
	explicit_bzero(t->auth, sizeof(t->auth));
	ws_close(t->conn);
	t->conn = NULL;
	if (t->conns == 0)
		tts_free(t);	/* else on_gone does, once the thread is done with us */
}

const struct tts_ops tts_cartesia = {
	"cartesia", start, begin, text, finish, cancel, samples, tick, stop,
};

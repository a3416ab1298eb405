/*
 * tts_cartesia.c - Cartesia streaming TTS (protocols.md section 3).
 *
 * Every LLM token goes into the reply's context with continue:true; the
 * reply ends with an empty transcript and continue:false; barge-in sends
 * cancel. Output is raw pcm_s16le at the call's rate, so the audio needs
 * no conversion: base64-decoded where the message arrives
 * (on_message_thread) and handed to the call's playout, which owns
 * everything after that (playout.h): contexts, the order of replies, the
 * flush after a cancel, the first-audio event.
 *
 * Context ids are "<call>-<n>", n the playout's context number. Only what
 * the engine acts on (done, word timings, errors) goes on to on_message;
 * audio chunks never do, so none is parsed twice. Everything here runs on
 * the worker's main loop.
 *
 * start() only returns a code; every event comes from the main loop. A
 * refusal that asking again cannot change (http_status.h) is on_error(fatal),
 * the last callback: no connection is opened after it. What a message
 * means is tts_cart_wire.c's.
 */
#include "tts.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/conf.h"
#include "../common/log.h"
#include "http_status.h"
#include "playout.h"
#include "tts_cart_wire.h"
#include "ws.h"

struct tts {
	struct ws_loop *loop;
	struct ws_conn *conn;
	const struct conf *conf;
	struct playout *po;
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
	struct buf pcm;			/* a chunk's decoded audio, reused */
};

static void ctx_id(const struct tts *t, uint32_t n, char *out, size_t len)
{
	snprintf(out, len, "%s-%u", t->tag, n);
}

static void audio_chunk(struct tts *t, uint32_t ctx, const char *b64, size_t len)
{
	uint8_t *out;

	buf_reset(&t->pcm);
	if (buf_reserve(&t->pcm, CART_AUDIO_CAP(len), &out) < 0)
		return;
	long n = cart_audio_decode(b64, len, out, CART_AUDIO_CAP(len));
	if (n > 0)
		playout_audio(t->po, ctx, out, (size_t)n);	/* not live: dropped there */
}

/* Every message, as it arrives. Audio goes to the playout; what the
 * engine acts on goes on to on_message. */
static bool on_message_thread(void *arg, const char *data, size_t len, bool binary)
{
	struct tts *t = arg;
	struct cart_msg m;

	if (binary || cart_msg_parse(&m, data, len, t->tag) < 0)
		return false;
	if (m.kind == CART_CHUNK)
		audio_chunk(t, m.ctx, m.audio, m.audio_len);
	else if (m.kind == CART_DONE || m.kind == CART_ERROR)
		playout_done(t->po, m.ctx);	/* a reply waiting behind it may go */
	bool forward = m.kind != CART_CHUNK && m.kind != CART_IGNORED;
	cart_msg_clear(&m);
	return forward;
}

static void on_wake_thread(void *arg)
{
	struct tts *t = arg;

	playout_push(t->po);
}

/* ---- what the engine acts on ---- */

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
	if (m.ctx && m.ctx != playout_current(t->po)) {
		/* A cancelled reply: its late done or words mean nothing now. */
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
	playout_lost(t->po);	/* no more audio of those */
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

	return playout_may_wait(t->po, t->rate);
}

static const struct ws_handlers handlers = {
	.on_message_thread = on_message_thread, .on_wake_thread = on_wake_thread,
	.may_wait = may_wait, .on_message = on_message, .on_close = on_close,
	.on_gone = on_gone,
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

/* The playout has room again, or a reply may go: on_wake_thread pushes. */
static void wake(void *arg)
{
	struct tts *t = arg;

	ws_loop_wake(t->loop);
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	int rc = -ENOMEM;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->conf = c;
	t->po = po;
	playout_attach(po, wake, t);	/* until tts_free(): the socket's hooks use it */
	buf_init(&t->pcm, PLAYOUT_WAIT_MAX);
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
	return playout_begin(t->po);
}

static json_t *message(struct tts *t, const char *text, size_t len, bool more)
{
	char id[32];
	json_t *m = json_deep_copy(t->base);

	ctx_id(t, playout_current(t->po), id, sizeof(id));
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
	/* First none of its audio plays, then tell Cartesia. */
	uint32_t n = playout_cancel(t->po);

	if (!n)
		return;		/* nothing playing, or cancelled already: harmless */
	ctx_id(t, n, id, sizeof(id));
	if (t->conn)
		send_json(t, json_pack("{s:s, s:b}", "context_id", id, "cancel", 1));
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
		tts_free(t);	/* else on_gone does, once the socket is released */
}

const struct tts_ops tts_cartesia = {
	"cartesia", start, begin, text, finish, cancel, stop,
};

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
 * the last callback: no connection is opened after it. The socket's
 * lifecycle (open on demand, reconnect, give up, free) is tts_ws.c's; what
 * a message means is tts_cart_wire.c's.
 */
#include "tts.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "playout.h"
#include "tts_cart_wire.h"
#include "tts_wire.h"
#include "tts_ws.h"

struct tts {
	struct tts_ws ws;
	json_t *base;			/* the fields every message of a context repeats */
};

static void audio_chunk(struct tts *t, uint32_t ctx, const char *b64, size_t len)
{
	uint8_t *out = tts_ws_pcm(&t->ws, CART_AUDIO_CAP(len));
	long n = out ? cart_audio_decode(b64, len, out, CART_AUDIO_CAP(len)) : -1;

	if (n > 0)
		playout_audio(t->ws.po, ctx, out, (size_t)n);	/* not live: dropped there */
}

/* Every message, as it arrives. Audio goes to the playout; what the
 * engine acts on goes on to message(). */
static bool arrived(void *self, const char *data, size_t len)
{
	struct tts *t = self;
	struct cart_msg m;

	if (cart_msg_parse(&m, data, len, t->ws.tag) < 0)
		return false;
	if (m.kind == CART_CHUNK)
		audio_chunk(t, m.ctx, m.audio, m.audio_len);
	else if (m.kind == CART_DONE || m.kind == CART_ERROR)
		playout_done(t->ws.po, m.ctx);	/* a reply waiting behind it may go */
	bool forward = m.kind != CART_CHUNK && m.kind != CART_IGNORED;
	cart_msg_clear(&m);
	return forward;
}

/* ---- what the engine acts on ---- */

static void on_words(struct tts *t, const struct cart_msg *m)
{
	const char *w[CART_WORDS_MAX];
	double e[CART_WORDS_MAX];
	size_t n = cart_msg_words(m, w, e, CART_WORDS_MAX);

	if (n)
		t->ws.ev->on_words(t->ws.arg, m->ctx, w, e, n);
}

static void message(void *self, const char *data, size_t len)
{
	struct tts *t = self;
	struct cart_msg m;

	if (cart_msg_parse(&m, data, len, t->ws.tag) < 0)
		return;
	if (m.ctx && m.ctx != playout_current(t->ws.po)) {
		/* A cancelled reply: its late done or words mean nothing now. */
	} else if (m.kind == CART_DONE) {
		t->ws.ev->on_done(t->ws.arg, m.ctx);
	} else if (m.kind == CART_TIMESTAMPS) {
		on_words(t, &m);
	} else if (m.kind == CART_ERROR) {
		log_warn("tts", t->ws.uuid, "Cartesia error on context %u: %.200s", m.ctx, m.error);
		t->ws.ev->on_error(t->ws.arg, m.error, false);
	}
	cart_msg_clear(&m);
}

static void release(void *self)
{
	struct tts *t = self;

	json_decref(t->base);
	free(t);
}

/* Every close is an error, idle or not: Cartesia closes no healthy socket. */
static const struct tts_ws_proto cartesia = {
	.name = "Cartesia", .arrived = arrived, .message = message, .release = release,
};

static int send_json(struct tts *t, json_t *msg)
{
	int rc = tts_ws_send(&t->ws, json_dumps(msg, JSON_COMPACT));

	json_decref(msg);
	return rc;
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	int rc = -ENOMEM;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	tts_ws_init(&t->ws, &cartesia, t, loop, po, rate, uuid, ev, arg);
	t->base = json_pack("{s:s, s:{s:s, s:s}, s:s, s:{s:s, s:s, s:i}, s:b}",
			    "model_id", c->tts_model, "voice", "mode", "id", "id", c->tts_voice,
			    "language", c->tts_language, "output_format", "container", "raw",
			    "encoding", "pcm_s16le", "sample_rate", rate, "add_timestamps", 1);
	if (!t->base ||
	    (rc = tts_ws_header(&t->ws, "X-API-Key", c->secrets->tts_key)) < 0 ||
	    (rc = tts_ws_header(&t->ws, "Cartesia-Version", c->tts_version)) < 0 ||
	    (rc = tts_ws_start(&t->ws, c->tts_url)) < 0) {
		log_warn("tts", uuid, "cannot open the Cartesia connection: %s", strerror(-rc));
		tts_ws_stop(&t->ws);	/* nothing open: frees t now */
		return rc;
	}
	*out = t;
	return 0;
}

static uint32_t begin(struct tts *t)
{
	return playout_begin(t->ws.po);
}

static json_t *message_for(struct tts *t, const char *text, size_t len, bool more)
{
	char id[32];
	json_t *m = json_deep_copy(t->base);

	tts_ctx_id(t->ws.tag, playout_current(t->ws.po), id, sizeof(id));
	json_object_set_new(m, "context_id", json_string(id));
	json_object_set_new(m, "transcript", json_stringn(text, len));
	json_object_set_new(m, "continue", json_boolean(more));
	return m;
}

static int text(struct tts *t, const char *s, size_t len)
{
	return send_json(t, message_for(t, s, len, true));
}

static int finish(struct tts *t)
{
	return send_json(t, message_for(t, "", 0, false));
}

static void cancel(struct tts *t)
{
	char id[32];
	/* First none of its audio plays, then tell Cartesia. */
	uint32_t n = playout_cancel(t->ws.po);

	if (!n)
		return;		/* nothing playing, or cancelled already: harmless */
	tts_ctx_id(t->ws.tag, n, id, sizeof(id));
	if (t->ws.conn)
		send_json(t, json_pack("{s:s, s:b}", "context_id", id, "cancel", 1));
}

static void stop(struct tts *t)
{
	if (t)
		tts_ws_stop(&t->ws);
}

const struct tts_ops tts_cartesia = {
	"cartesia", start, begin, text, finish, cancel, stop,
};

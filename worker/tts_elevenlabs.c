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
 * where the message arrives, with no resampling; the playout owns
 * everything after that (playout.h).
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
 * The socket's lifecycle (open on demand, reconnect, give up, free) is
 * tts_ws.c's; this file says what a close while idle or busy loses.
 */
#include "tts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "playout.h"
#include "tts_wire.h"
#include "tts_ws.h"
#include "tts_xi_wire.h"

#define XI_CONTEXTS_MAX 5	/* per socket (protocols.md 4.4) */

struct tts {
	struct tts_ws ws;
	char url[1024];
	struct xi_format fmt;
	struct xi_voice voice;
	int open_ctxs;			/* contexts begun on this socket, no isFinal yet */
	char error[200];		/* ElevenLabs' last error message, for the close */
	bool error_permanent;
	/* The reply being sent. */
	uint32_t ctx;			/* 0: none, or its connection died */
	bool ctx_open, ctx_closed;	/* init sent; close_context sent */
	struct xi_chunker chunks;
	char chunk[XI_CHUNK_MAX + 2];
};

/* ---- where a message arrives ---- */

static void audio_chunk(struct tts *t, uint32_t ctx, const char *b64, size_t len)
{
	uint8_t *out = tts_ws_pcm(&t->ws, XI_AUDIO_CAP(len));
	long n = out ? xi_audio_decode(b64, len, t->fmt.ulaw, out, XI_AUDIO_CAP(len)) : -1;

	if (n > 0)
		playout_audio(t->ws.po, ctx, out, (size_t)n);	/* not live: dropped there */
}

/* Every message. Audio goes to the playout; what the main loop acts on
 * (finals, errors) goes on. */
static bool arrived(void *self, const char *data, size_t len)
{
	struct tts *t = self;
	struct xi_msg m;

	if (xi_msg_parse(&m, data, len, t->ws.tag) < 0)
		return false;
	if (m.ctx && m.audio)
		audio_chunk(t, m.ctx, m.audio, m.audio_len);
	if (m.ctx && m.final)
		playout_done(t->ws.po, m.ctx);	/* a reply waiting behind it may go */
	bool forward = m.final || m.error;
	xi_msg_clear(&m);
	return forward;
}

/* ---- what the engine acts on ---- */

static void message(void *self, const char *data, size_t len)
{
	struct tts *t = self;
	struct xi_msg m;

	if (xi_msg_parse(&m, data, len, t->ws.tag) < 0)
		return;
	if (m.final && m.ctx && t->open_ctxs > 0)
		t->open_ctxs--;
	if (m.error) {
		/* The close that follows reports it, once. */
		snprintf(t->error, sizeof(t->error), "%s", m.error);
		t->error_permanent = xi_error_permanent(m.code);
	} else if (m.final && m.ctx && m.ctx == playout_current(t->ws.po)) {
		t->ws.ev->on_done(t->ws.arg, m.ctx);	/* a cancelled reply's final means nothing */
	}
	xi_msg_clear(&m);
}

/* The socket's contexts died with it. A reply begun but not yet sent lost
 * nothing: its text opens the next connection. */
static void closed(void *self, struct tts_ws_end *e)
{
	struct tts *t = self;

	e->permanent |= t->error_permanent;
	e->idle = t->open_ctxs == 0 && !(t->ctx && t->ctx_open && !t->ctx_closed);
	snprintf(e->detail, sizeof(e->detail), "%s", t->error);
	t->error[0] = '\0';
	t->open_ctxs = 0;
	t->ctx_open = t->ctx_closed = false;
	if (!e->idle || e->permanent)
		t->ctx = 0;	/* the rest of this reply has nowhere to go */
}

static void release(void *self)
{
	free(self);
}

static const struct tts_ws_proto elevenlabs = {
	.name = "ElevenLabs", .arrived = arrived, .message = message, .closed = closed,
	.release = release,
};

/* The reply's context on this socket: its first message carries the
 * settings (they are refused later, protocols.md 4.6). */
static int ctx_ensure(struct tts *t, const char *id)
{
	if (t->ctx_open)
		return 0;
	int rc = tts_ws_send(&t->ws, xi_msg_init(id, &t->voice));
	if (rc == 0) {
		t->ctx_open = true;
		t->open_ctxs++;
	}
	return rc;
}

static int send_chunk(struct tts *t, const char *text, size_t len, bool flush)
{
	char id[32];

	tts_ctx_id(t->ws.tag, t->ctx, id, sizeof(id));
	int rc = ctx_ensure(t, id);
	return rc ? rc : tts_ws_send(&t->ws, xi_msg_text(id, text, len, flush));
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
	return rc ? rc : tts_ws_header(&t->ws, "xi-api-key", c->secrets->xi_key);
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	tts_ws_init(&t->ws, &elevenlabs, t, loop, po, rate, uuid, ev, arg);
	if ((rc = settings(t, c, rate)) < 0 || (rc = tts_ws_start(&t->ws, t->url)) < 0) {
		log_warn("tts", uuid, "cannot open the ElevenLabs connection (%s at %d Hz): %s",
			 c->tts_xi_format, rate, strerror(-rc));
		tts_ws_stop(&t->ws);	/* nothing open: frees t now */
		return rc;
	}
	*out = t;
	return 0;
}

static uint32_t begin(struct tts *t)
{
	/* Closed contexts count until their isFinal: a socket full of them
	 * (barge-in after barge-in) is replaced, the new reply not refused. */
	if (t->ws.conn && t->open_ctxs >= XI_CONTEXTS_MAX - 1) {
		log_info("tts", t->ws.uuid, "%d ElevenLabs contexts still open: new connection",
			 t->open_ctxs);
		tts_ws_drop(&t->ws);
		t->open_ctxs = 0;
	}
	xi_chunker_reset(&t->chunks);
	t->ctx_open = t->ctx_closed = false;
	t->ctx = playout_begin(t->ws.po);
	return t->ctx;
}

static int text(struct tts *t, const char *s, size_t len)
{
	bool flush;
	size_t n;
	int rc = 0;

	if (t->ws.dead)
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

	if (t->ws.dead)
		return -ENOTCONN;
	if (!t->ctx || t->ctx_closed)
		return 0;
	/* Even an empty reply opens its context: its isFinal is the done. */
	size_t n = xi_chunker_take(&t->chunks, true, t->chunk, &flush);
	rc = send_chunk(t, t->chunk, n, true);
	tts_ctx_id(t->ws.tag, t->ctx, id, sizeof(id));
	if (rc == 0)
		rc = tts_ws_send(&t->ws, xi_msg_close(id));
	t->ctx_closed = true;
	return rc;
}

static void cancel(struct tts *t)
{
	char id[32];
	/* First none of its audio plays, then tell ElevenLabs. */
	uint32_t n = playout_cancel(t->ws.po);

	if (!n || n != t->ctx)
		return;		/* nothing playing, or cancelled already: harmless */
	if (t->ws.conn && t->ctx_open && !t->ctx_closed) {
		tts_ctx_id(t->ws.tag, n, id, sizeof(id));
		tts_ws_send(&t->ws, xi_msg_close(id));
	}
	t->ctx_closed = true;
}

static void stop(struct tts *t)
{
	if (t)
		tts_ws_stop(&t->ws);
}

const struct tts_ops tts_elevenlabs = {
	"elevenlabs", start, begin, text, finish, cancel, stop,
};

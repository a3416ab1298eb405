/*
 * tts_ws.c - a TTS provider's websocket lifecycle. See tts_ws.h.
 *
 * Why a lost socket is not reopened at once: the contexts of its replies
 * died with it, and a provider that closes an idle socket would be called
 * again for nothing; the next reply's first send opens a new one. Why
 * binary messages are dropped here: neither provider sends any.
 */
#include "tts_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "http_status.h"
#include "playout.h"
#include "tts.h"
#include "ws.h"

static void release(struct tts_ws *w)
{
	buf_free(&w->pcm);
	playout_detach(w->po);
	w->proto->release(w->self);	/* w goes with it */
}

/* ---- the socket's hooks ---- */

static bool on_message_thread(void *arg, const char *data, size_t len, bool binary)
{
	struct tts_ws *w = arg;

	return !binary && w->proto->arrived(w->self, data, len);
}

/* The playout has room again, or a reply may go. */
static void on_wake_thread(void *arg)
{
	struct tts_ws *w = arg;

	playout_push(w->po);
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct tts_ws *w = arg;

	if (!binary && !w->dead)
		w->proto->message(w->self, data, len);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct tts_ws *w = arg;
	struct tts_ws_end e = {
		.code = code, .http_status = http_status, .reason = reason,
		.permanent = http_status_permanent(http_status),
	};
	char why[300];

	ws_close(w->conn);
	w->conn = NULL;
	if (w->proto->closed)
		w->proto->closed(w->self, &e);
	if (w->stopping || w->dead)
		return;
	snprintf(why, sizeof(why), "%s closed (code %d, HTTP %d: %s)%s%s", w->proto->name, code,
		 http_status, e.detail[0] ? e.detail : reason, e.detail[0] ? " " : "",
		 e.detail[0] && reason[0] ? reason : "");
	if (e.idle && !e.permanent) {
		log_info("tts", w->uuid, "%s while idle; the next reply reopens it", why);
		return;
	}
	playout_lost(w->po);	/* no more audio of those */
	log_warn("tts", w->uuid, "%s; %s", why, e.permanent ? "giving up" : "reconnecting");
	w->dead = e.permanent;
	w->ev->on_error(w->arg, why, e.permanent);
}

static void on_gone(void *arg)
{
	struct tts_ws *w = arg;

	if (--w->conns == 0 && w->stopping)
		release(w);	/* no hook can run for us any more */
}

/* While a reply's audio is queued, the socket waits for the call's tick. */
static bool may_wait(void *arg)
{
	struct tts_ws *w = arg;

	return playout_may_wait(w->po, w->rate);
}

/*
 * While a reply is well ahead of the caller, a tick leaves the socket
 * unread: it carries only audio, done and errors, none needed before the
 * ring runs low (barge-in is heard locally). Without this, every tick of a
 * reply that came faster than it plays is a recv answered EAGAIN. The
 * cloud agent's socket (eng_elevenlabs.c) carries its interruptions and
 * is read on every tick.
 */
static bool may_skip(void *arg)
{
	struct tts_ws *w = arg;

	return playout_well_ahead(w->po, w->rate);
}

/* The one table of every websocket TTS: a hook added here serves both. */
static const struct ws_handlers handlers = {
	.on_message_thread = on_message_thread, .on_wake_thread = on_wake_thread,
	.may_wait = may_wait, .may_skip = may_skip, .on_message = on_message,
	.on_close = on_close, .on_gone = on_gone,
};

/* ---- the provider's side ---- */

/* playout_attach's wake: on_wake_thread pushes in the loop's next pass. */
static void wake(void *arg)
{
	struct tts_ws *w = arg;

	ws_loop_wake(w->loop);
}

void tts_ws_init(struct tts_ws *w, const struct tts_ws_proto *p, void *self,
		 struct ws_loop *loop, struct playout *po, int rate, const char *uuid,
		 const struct tts_events *ev, void *arg)
{
	memset(w, 0, sizeof(*w));
	w->proto = p;
	w->self = self;
	w->loop = loop;
	w->po = po;
	w->rate = rate;
	w->ev = ev;
	w->arg = arg;
	snprintf(w->uuid, sizeof(w->uuid), "%s", uuid);
	snprintf(w->tag, sizeof(w->tag), "%.8s", uuid[0] ? uuid : "call");
	buf_init(&w->pcm, PLAYOUT_WAIT_MAX);
	playout_attach(po, wake, w);	/* until release(): the socket's hooks use it */
}

int tts_ws_header(struct tts_ws *w, const char *name, const char *value)
{
	if (w->headers == TTS_WS_HEADERS)
		return -E2BIG;
	char *h = w->header[w->headers];
	int n = snprintf(h, sizeof(w->header[0]), "%s: %s", name, value);

	if (n < 0 || (size_t)n >= sizeof(w->header[0])) {
		explicit_bzero(h, sizeof(w->header[0]));
		return -ENAMETOOLONG;
	}
	w->headers++;
	return 0;
}

static int ensure_open(struct tts_ws *w)
{
	const char *headers[TTS_WS_HEADERS + 1] = { NULL };

	if (w->conn)
		return 0;
	if (w->dead)
		return -ENOTCONN;
	for (size_t i = 0; i < w->headers; i++)
		headers[i] = w->header[i];
	int rc = ws_open(&w->conn, w->loop, w->url, headers, &handlers, w);
	w->conns += rc == 0;
	return rc;
}

int tts_ws_start(struct tts_ws *w, const char *url)
{
	w->url = url;
	return ensure_open(w);
}

int tts_ws_send(struct tts_ws *w, char *msg)
{
	int rc = !msg ? -ENOMEM : ensure_open(w);

	if (rc == 0)
		rc = ws_send_text(w->conn, msg, strlen(msg));
	free(msg);
	return rc;
}

void tts_ws_drop(struct tts_ws *w)
{
	ws_close(w->conn);
	w->conn = NULL;
	playout_lost(w->po);
}

uint8_t *tts_ws_pcm(struct tts_ws *w, size_t cap)
{
	uint8_t *out;

	buf_reset(&w->pcm);
	return buf_reserve(&w->pcm, cap, &out) < 0 ? NULL : out;
}

void tts_ws_stop(struct tts_ws *w)
{
	if (!w)
		return;
	w->stopping = true;
	explicit_bzero(w->header, sizeof(w->header));
	ws_close(w->conn);
	w->conn = NULL;
	if (w->conns == 0)
		release(w);	/* else on_gone does, once the socket is released */
}

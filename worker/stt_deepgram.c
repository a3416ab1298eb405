/*
 * stt_deepgram.c - Deepgram live transcription (protocols.md section 1).
 *
 * One websocket per call: linear16 at the call's rate, interim results,
 * VAD events, endpointing and utterance_end_ms from [stt], key terms as
 * repeated keyterm parameters (nova-3) or keywords (older models). Audio
 * goes out from the inbound ring when the socket is writable (fill()),
 * never as an empty message (that would end the stream), and only when the
 * engine has said it is due (audio()): the engine batches it ([stt]
 * batch_ms) except where a turn's end or a barge-in may hang on it, and
 * the loop's other wake-ups (a TTS token, a reconnection) must not break
 * its batches up. Everything here runs on the worker's main loop.
 * KeepAlive goes out as text whenever no audio has been sent for 3 s.
 *
 * A close by Deepgram mid-call (a network blip, NET-0001) is answered by a
 * new connection after a short pause; audio that arrived meanwhile stays
 * in the ring, so nothing the caller says is lost. After five failures in
 * a row, or a refusal that asking again cannot change (http_status.h), the
 * client gives up and says so: on_error(fatal), its last callback.
 *
 * start() only returns a code: a callback from inside it would reach a
 * caller that has not finished setting up (the agent once spoke through a
 * TTS client not yet made, and the worker crashed). The URL and messages
 * are stt_dg_wire.c's.
 */
#include "stt.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "http_status.h"
#include "stt_dg_wire.h"
#include "ws.h"

#define KEEPALIVE_NS (3 * NS_PER_S)
#define MAX_FAILURES 5
#define RECONNECT_MS 200

struct stt {
	struct ws_loop *loop;
	struct ws_conn *conn;
	const struct conf *conf;
	struct ring *audio;
	const struct stt_events *ev;
	void *arg;
	char uuid[40];
	char *url;			/* sized from the config */
	char auth[300];
	int failures;
	int conns;			/* connections not yet gone */
	bool open, stopping;
	bool dead;			/* on_error(fatal) was called: nothing follows */
	bool due;			/* audio() said so; fill() takes it */
	struct event *keepalive, *retry;
};

static void on_retry(evutil_socket_t fd, short what, void *arg);

/*
 * A KeepAlive goes only when nothing went for KEEPALIVE_NS: the timer is
 * moved on each send (in its heap, no syscall), so it never wakes a
 * worker whose caller's audio flows.
 */
static void keepalive_later(struct stt *s)
{
	struct timeval tv = { KEEPALIVE_NS / NS_PER_S, 0 };

	event_add(s->keepalive, &tv);
}

/* The socket is writable: the next piece of caller audio, if due. */
static size_t fill(void *arg, uint8_t *buf, size_t cap)
{
	struct stt *s = arg;

	if (!s->due)
		return 0;
	s->due = false;
	size_t n = ring_avail(s->audio);
	if (n == 0)
		return 0;
	if (n > cap / 2) {
		n = cap / 2;
		s->due = true;		/* the rest in the next message */
	}
	ring_read(s->audio, buf, n);
	keepalive_later(s);
	return n * 2;
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct stt *s = arg;
	char why[200];

	if (binary || s->dead)
		return;
	if (dg_message(data, len, s->ev, s->arg, why, sizeof(why)) == DG_ERROR)
		log_warn("stt", s->uuid, "Deepgram error: %s", why);
}

/* The last callback: the client stays allocated until stop(). */
static void give_up(struct stt *s, const char *why)
{
	s->dead = true;
	event_del(s->keepalive);
	event_del(s->retry);
	s->ev->on_error(s->arg, why, true);
}

static void on_open(void *arg)
{
	struct stt *s = arg;

	s->open = true;
	s->failures = 0;
	keepalive_later(s);
	s->due = true;		/* audio that queued while connecting */
	ws_loop_wake(s->loop);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct stt *s = arg;
	struct timeval tv = { 0, RECONNECT_MS * 1000 * (s->failures + 1) };
	bool permanent = http_status_permanent(http_status);

	ws_close(s->conn);
	s->conn = NULL;
	s->open = false;
	if (s->stopping || s->dead)
		return;
	s->failures++;
	log_warn("stt", s->uuid, "Deepgram closed (code %d, HTTP %d: %s); %s", code, http_status,
		 reason, s->failures < MAX_FAILURES && !permanent ? "reconnecting" : "giving up");
	if (s->failures >= MAX_FAILURES || permanent) {
		give_up(s, reason);
		return;
	}
	s->ev->on_error(s->arg, reason, false);
	event_add(s->retry, &tv);
}

static void stt_free(struct stt *s)
{
	if (s->keepalive)
		event_free(s->keepalive);
	if (s->retry)
		event_free(s->retry);
	explicit_bzero(s->auth, sizeof(s->auth));
	free(s->url);
	free(s);
}

static void on_gone(void *arg)
{
	struct stt *s = arg;

	if (--s->conns == 0 && s->stopping)
		stt_free(s);	/* no hook can run for us any more */
}

static const struct ws_handlers handlers = {
	.fill = fill, .on_open = on_open, .on_message = on_message, .on_close = on_close,
	.on_gone = on_gone,
};

static int connect_now(struct stt *s)
{
	const char *headers[] = { s->auth, NULL };
	int rc = ws_open(&s->conn, s->loop, s->url, headers, &handlers, s);

	s->conns += rc == 0;
	return rc;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct stt *s = arg;
	(void)fd; (void)what;

	if (!s->dead && connect_now(s) < 0)
		give_up(s, "cannot reopen the Deepgram connection");
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct stt *s = arg;
	static const char msg[] = "{\"type\":\"KeepAlive\"}";
	(void)fd; (void)what;

	if (s->open && ws_send_text(s->conn, msg, sizeof(msg) - 1) == 0)
		keepalive_later(s);
}

static int start(struct stt **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct ring *audio, const char *uuid, const struct stt_events *ev, void *arg)
{
	struct stt *s = calloc(1, sizeof(*s));
	struct event_base *base = ws_loop_base(loop);
	int rc = -ENOMEM;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->conf = c;
	s->audio = audio;
	s->ev = ev;
	s->arg = arg;
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	snprintf(s->auth, sizeof(s->auth), "Authorization: Token %s", c->secrets->stt_key);
	s->url = dg_listen_url(c, rate);
	s->keepalive = evtimer_new(base, on_keepalive, s);
	s->retry = event_new(base, -1, 0, on_retry, s);
	if (!s->url || !s->keepalive || !s->retry || (rc = connect_now(s)) < 0) {
		if (rc == -ENAMETOOLONG)
			log_warn("stt", uuid, "the Deepgram URL is %zu bytes, more than the %d a "
				 "websocket upgrade can carry: shorten [stt] keyterms",
				 strlen(s->url), WS_PATH_MAX);
		else
			log_warn("stt", uuid, "cannot open the Deepgram connection: %s",
				 strerror(-rc));
		stt_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void audio(struct stt *s)
{
	if (!s)
		return;
	s->due = true;		/* kept for on_open while connecting */
	if (s->open)
		ws_loop_wake(s->loop);
}

static void stop(struct stt *s)
{
	static const char msg[] = "{\"type\":\"CloseStream\"}";

	if (!s)
		return;
	s->stopping = true;
	if (s->open)
		ws_send_text(s->conn, msg, sizeof(msg) - 1);
	ws_close(s->conn);
	s->conn = NULL;
	event_del(s->keepalive);
	event_del(s->retry);
	explicit_bzero(s->auth, sizeof(s->auth));
	if (s->conns == 0)
		stt_free(s);	/* else on_gone does, once the socket is released */
}

const struct stt_ops stt_deepgram = { "deepgram", start, audio, stop };

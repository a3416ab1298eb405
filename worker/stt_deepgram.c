/*
 * stt_deepgram.c - Deepgram live transcription (protocols.md section 1).
 *
 * One websocket per call: linear16 at the call's rate, interim results,
 * VAD events, endpointing and utterance_end_ms from [stt], key terms as
 * repeated keyterm parameters (nova-3) or keywords (older models). Audio
 * goes out from the inbound ring on the websocket thread in 20-100 ms
 * binary messages, never an empty one (that would end the stream).
 * KeepAlive goes out as text whenever no audio has been sent for 3 s.
 *
 * A close by Deepgram mid-call (a network blip, NET-0001) is answered by a
 * new connection after a short pause; audio that arrived meanwhile stays
 * in the ring, so nothing the caller says is lost. After five failures in
 * a row the client gives up and says so.
 */
#include "stt.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
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
	int rate;
	char url[2048];
	char auth[300];
	int failures;
	int conns;			/* connections not yet gone */
	bool open, stopping;
	_Atomic int64_t last_sent_ns;	/* written by the websocket thread */
	struct event *keepalive, *retry;
};

static void connect_now(struct stt *s);

/* Websocket thread: the next piece of caller audio, if any. */
static size_t fill(void *arg, uint8_t *buf, size_t cap)
{
	struct stt *s = arg;
	size_t n = ring_avail(s->audio);

	if (n == 0)
		return 0;
	if (n > cap / 2)
		n = cap / 2;
	ring_read(s->audio, buf, n);
	atomic_store(&s->last_sent_ns, mono_ns());
	return n * 2;
}

/* Concatenates the words of a Results message's first alternative. */
static const char *transcript(json_t *j)
{
	json_t *alt = json_array_get(json_object_get(json_object_get(j, "channel"),
						     "alternatives"), 0);
	return json_string_value(json_object_get(alt, "transcript"));
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct stt *s = arg;
	json_error_t jerr;
	json_t *j;

	if (binary || !(j = json_loadb(data, len, 0, &jerr)))
		return;	/* a non-JSON frame is noise, not a reason to drop the call */
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!type) {
	} else if (!strcmp(type, "SpeechStarted")) {
		s->ev->on_speech_started(s->arg);
	} else if (!strcmp(type, "UtteranceEnd")) {
		s->ev->on_utterance_end(s->arg);
	} else if (!strcmp(type, "Results")) {
		const char *t = transcript(j);
		bool final = json_is_true(json_object_get(j, "is_final"));
		if (t && final)
			s->ev->on_final(s->arg, t, json_is_true(json_object_get(j, "speech_final")));
		else if (t && *t)
			s->ev->on_partial(s->arg, t);
	} else if (!strcmp(type, "Error")) {
		log_warn("stt", s->uuid, "Deepgram error: %.200s", data);
	}
	json_decref(j);
}

static void on_open(void *arg)
{
	struct stt *s = arg;

	s->open = true;
	s->failures = 0;
	atomic_store(&s->last_sent_ns, mono_ns());
	ws_loop_wake(s->loop);	/* audio that queued while connecting */
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	connect_now(arg);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct stt *s = arg;
	struct timeval tv = { 0, RECONNECT_MS * 1000 * (s->failures + 1) };

	ws_close(s->conn);
	s->conn = NULL;
	s->open = false;
	if (s->stopping)
		return;
	s->failures++;
	log_warn("stt", s->uuid, "Deepgram closed (code %d, HTTP %d: %s); %s", code, http_status,
		 reason, s->failures < MAX_FAILURES ? "reconnecting" : "giving up");
	if (s->failures >= MAX_FAILURES || http_status == 400 || http_status == 401 ||
	    http_status == 402 || http_status == 403) {
		s->ev->on_error(s->arg, reason, true);
		return;
	}
	s->ev->on_error(s->arg, reason, false);
	event_add(s->retry, &tv);
}

static void on_gone(void *arg)
{
	struct stt *s = arg;

	if (--s->conns == 0 && s->stopping)
		free(s);	/* no hook can run for us any more */
}

static const struct ws_handlers handlers = {
	.fill = fill, .on_open = on_open, .on_message = on_message, .on_close = on_close,
	.on_gone = on_gone,
};

static void connect_now(struct stt *s)
{
	const char *headers[] = { s->auth, NULL };

	if (ws_open(&s->conn, s->loop, s->url, headers, &handlers, s) < 0)
		s->ev->on_error(s->arg, "cannot open the Deepgram connection", true);
	else
		s->conns++;
}

static void on_keepalive(evutil_socket_t fd, short what, void *arg)
{
	struct stt *s = arg;
	static const char msg[] = "{\"type\":\"KeepAlive\"}";
	(void)fd; (void)what;

	if (s->open && mono_ns() - atomic_load(&s->last_sent_ns) > KEEPALIVE_NS) {
		ws_send_text(s->conn, msg, sizeof(msg) - 1);
		atomic_store(&s->last_sent_ns, mono_ns());
	}
}

/* The listen URL: the settings, and one keyterm (or keywords) per term. */
static void build_url(struct stt *s)
{
	const struct conf *c = s->conf;
	bool nova3 = !strncmp(c->stt_model, "nova-3", 6);
	size_t n = (size_t)snprintf(s->url, sizeof(s->url),
		"%s?model=%s&language=%s&encoding=linear16&sample_rate=%d&channels=1"
		"&interim_results=true&vad_events=true&smart_format=true&punctuate=true"
		"&endpointing=%d&utterance_end_ms=%d", c->stt_url, c->stt_model,
		c->stt_language, s->rate, c->stt_endpointing_ms, c->stt_utterance_end_ms);
	char terms[sizeof(c->stt_keyterms)];

	snprintf(terms, sizeof(terms), "%s", c->stt_keyterms);
	for (char *save, *t = strtok_r(terms, ",", &save); t && n < sizeof(s->url);
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		n += (size_t)snprintf(s->url + n, sizeof(s->url) - n, nova3 ? "&keyterm=" :
				      "&keywords=");
		for (; *t && n + 4 < sizeof(s->url); t++) {	/* URL-encode once */
			if ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') ||
			    (*t >= '0' && *t <= '9') || strchr("-_.~", *t))
				s->url[n++] = *t;
			else
				n += (size_t)snprintf(s->url + n, 4, "%%%02X", (unsigned char)*t);
		}
		s->url[n] = '\0';
	}
}

static int start(struct stt **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct ring *audio, const char *uuid, const struct stt_events *ev, void *arg)
{
	struct stt *s = calloc(1, sizeof(*s));
	struct timeval sec = { 1, 0 };
	struct event_base *base = NULL;

	*out = NULL;
	if (!s)
		return -1;
	s->loop = loop;
	s->conf = c;
	s->audio = audio;
	s->ev = ev;
	s->arg = arg;
	s->rate = rate;
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	snprintf(s->auth, sizeof(s->auth), "Authorization: Token %s", c->secrets->stt_key);
	build_url(s);
	base = ws_loop_base(loop);
	s->keepalive = event_new(base, -1, EV_PERSIST, on_keepalive, s);
	s->retry = event_new(base, -1, 0, on_retry, s);
	if (!s->keepalive || !s->retry || event_add(s->keepalive, &sec) < 0) {
		ev->on_error(arg, "out of memory", true);
		return -1;
	}
	connect_now(s);
	*out = s;
	return 0;
}

static void audio(struct stt *s)
{
	if (s && s->open)
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
	event_free(s->keepalive);
	event_free(s->retry);
	explicit_bzero(s->auth, sizeof(s->auth));
	if (s->conns == 0)
		free(s);	/* else on_gone does, once the thread is done with us */
}

const struct stt_ops stt_deepgram = { "deepgram", start, audio, stop };

/*
 * eng_elevenlabs.c - the elevenlabs engine: the call bridged to an
 * ElevenLabs Conversational AI agent over its websocket (protocols.md 5).
 *
 * Owns: one conversation per call. Before it opens, the call's context
 * comes from our own api's did_context (agent_ctx.c) and, when a key is
 * configured, a signed URL from get-signed-url; the context goes to the
 * agent as dynamic variables in conversation_initiation_client_data, so
 * it needs no getCallContext round trip. The call's own variables (an
 * outbound call's customParameters) go too, never over a did_context
 * field, as in the local agent's prompt (xa_dynamic_vars). Then the
 * caller's audio goes up in the agent's input format (xi_agent_audio.c
 * converts rate and encoding), and the agent's audio comes down into the
 * call's playout.
 *
 * Interruption: audio events carry increasing event ids. A playout reply
 * holds the audio of one agent response (a new one begins at the audio
 * after agent_response), so each reply is a range of ids. An interruption
 * with id N cancels the reply holding N and all older ones; a newer reply
 * already queued (its ids all past N) survives and plays. Any audio that
 * comes later with an id of N or less is dropped. Only two replies can be
 * unfinished in the playout: while one is held behind another, the next
 * response's audio joins it rather than begin a third (an interruption
 * then cancels that whole reply, as before). Pings are answered with a
 * pong of the same id at once.
 *
 * createBooking arrives as a client tool call and is answered here,
 * through this worker's booking writer (agent_booking.c), so the agent
 * needs no public webhook. The server ends the conversation by closing
 * the websocket: the call then ends once the agent's last audio played.
 *
 * Batches: the caller's frames are read in batches (xi_read_batch_ms)
 * except in the quiet after the caller's voice, so the kernel paces the
 * agent's audio on AudioSocket ([call] kernel_pacing); silence is written
 * ahead only while no answer is awaited (xi_reply_near).
 *
 * Everything runs on the worker's main loop (no thread hook), so the
 * bridge is the playout's producer on that loop. The websocket may be
 * released after the call stops: the state is freed on on_gone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/audio.h"
#include "../common/base64.h"
#include "../common/buf.h"
#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "agent.h"
#include "call.h"
#include "engine.h"
#include "http.h"
#include "playout.h"
#include "worker.h"
#include "ws.h"
#include "xi_agent_audio.h"
#include "xi_agent_wire.h"

#define URL_TIMEOUT_MS 5000
#define SEND_MS 100		/* caller audio per user_audio_chunk */
#define TAIL_MS 1500		/* quiet after the caller's voice goes out frame by frame */
#define BATCH_MS 60		/* the caller's frames read together, outside that quiet */
#define ANSWER_MS 5000		/* after the caller's voice, the agent's answer may come */
#define URL_MAX 4096

struct xi {
	struct call *call;
	struct worker *w;
	const struct conf *conf;
	struct playout *po;
	char uuid[40];
	int rate;

	struct http_req *ctx_req;
	struct ctx_fetch *ctx_fetch;
	json_t *vars;			/* NULL until the context is known */
	struct http_req *url_req;
	struct buf url_body;
	char *ws_url;			/* NULL until known */

	struct ws_conn *conn;
	int conns;			/* connections not yet gone */
	bool stopping, over;		/* stop() called; the conversation ended */
	bool talking;			/* metadata came: audio flows both ways */

	struct xa_conv *up, *down;	/* caller -> agent, agent -> caller */
	struct buf up_buf, down_buf;	/* converted audio on its way */
	struct buf down_raw;		/* an audio event's decoded bytes */
	size_t up_bytes;		/* SEND_MS of the agent's input format */
	int64_t voice_ns;		/* the caller's last frame at speech level */
	int64_t agent_ns;		/* the agent's last audio came */
	uint32_t ctx;			/* the playout reply audio goes to; 0: none yet */
	int64_t ctx_first_id, last_id, dropped_upto;
	uint32_t prev_ctx;		/* the reply before it, maybe still queued; 0: none */
	int64_t prev_first_id;

	struct agent_booking *bk;
	char tool_call_id[128];
	bool booked;
	int turns, interruptions;
	json_t *transcript;
};

static int64_t call_ms(const struct xi *x)
{
	return (real_ns() - call_start_real_ns(x->call)) / NS_PER_MS;
}

static void transcript_add(struct xi *x, const char *role, const char *text)
{
	if (*text)
		json_array_append_new(x->transcript, json_pack("{s:s, s:s, s:I}", "role", role,
			"text", text, "t_ms", (json_int_t)call_ms(x)));
}

/* The agent's reply was cut: its entry says only what was spoken. */
static void transcript_correct(struct xi *x, const char *original, const char *corrected)
{
	for (size_t i = json_array_size(x->transcript); i-- > 0;) {
		json_t *e = json_array_get(x->transcript, i);
		const char *t = json_string_value(json_object_get(e, "text"));
		if (strcmp(json_string_value(json_object_get(e, "role")), "agent") ||
		    (original && t && strcmp(t, original)))
			continue;
		json_object_set_new(e, "text", json_string(corrected));
		json_object_set_new(e, "interrupted", json_true());
		return;
	}
}

static void send_text(struct xi *x, char *text)
{
	if (text && x->conn && ws_send_text(x->conn, text, strlen(text)) < 0)
		log_warn("xi", x->uuid, "message not sent: the conversation is closing");
	free(text);
}

/* ---- caller audio up ---- */

/*
 * The caller's frames since the last call: to the agent in SEND_MS chunks
 * (dropped before the conversation is up: the agent greets first). flush:
 * the rest goes now too. The quiet just after the caller spoke is what the
 * agent's turn detection waits for; held back for a batch, it would add up
 * to SEND_MS to every turn.
 */
static void caller_audio(struct xi *x, bool flush)
{
	struct ring *in = call_ring_in(x->call);
	int16_t s[320];
	size_t n;

	while ((n = ring_read(in, s, sizeof(s) / sizeof(s[0]))) > 0)
		if (x->talking && xa_conv_run(x->up, (const uint8_t *)s, n * 2, &x->up_buf) < 0)
			buf_reset(&x->up_buf);	/* out of memory: this audio is lost */
	while (x->talking && x->up_buf.len >= x->up_bytes) {
		send_text(x, xa_audio_msg(x->up_buf.data, x->up_bytes));
		buf_consume(&x->up_buf, x->up_bytes);
	}
	if (x->talking && flush && x->up_buf.len) {
		send_text(x, xa_audio_msg(x->up_buf.data, x->up_buf.len));
		buf_reset(&x->up_buf);
	}
}

/* ---- agent audio down ---- */

static void agent_audio(struct xi *x, const struct xa_msg *m)
{
	uint8_t *raw;

	if (m->event_id <= x->dropped_upto)
		return;		/* the interrupted response's late audio */
	if (!x->ctx) {
		x->ctx = playout_begin(x->po);
		x->ctx_first_id = m->event_id;
	}
	x->last_id = m->event_id;
	x->agent_ns = mono_ns();
	buf_reset(&x->down_raw);
	buf_reset(&x->down_buf);
	if (buf_reserve(&x->down_raw, m->audio_len / 4 * 3 + 3, &raw) < 0)
		return;
	long n = base64_decode(m->audio, m->audio_len, raw);
	if (n <= 0 || xa_conv_run(x->down, raw, (size_t)n, &x->down_buf) < 0)
		return;
	playout_audio(x->po, x->ctx, x->down_buf.data, x->down_buf.len);
}

/* A new agent response: its audio gets a reply of its own, unless one is
 * held already (a third would replace it). */
static void reply_end(struct xi *x)
{
	if (!x->ctx || playout_holding(x->po))
		return;
	playout_done(x->po, x->ctx);
	x->prev_ctx = x->ctx;
	x->prev_first_id = x->ctx_first_id;
	x->ctx = 0;
}

static void interruption(struct xi *x, int64_t id)
{
	if (id > x->dropped_upto)
		x->dropped_upto = id;
	x->interruptions++;
	if (x->ctx && x->ctx_first_id <= id) {
		playout_cancel(x->po);
		x->ctx = x->prev_ctx = 0;
		if (x->last_id > id)	/* not what the server does; said, not hidden */
			log_warn("xi", x->uuid, "interruption %lld: audio up to %lld was queued "
				 "too and is dropped with it", (long long)id, (long long)x->last_id);
	} else if (x->prev_ctx && x->prev_first_id <= id) {
		playout_cancel_upto(x->po, x->prev_ctx);
		x->prev_ctx = 0;
		if (x->ctx)
			log_info("xi", x->uuid, "interruption %lld: the newer response from "
				 "event %lld plays", (long long)id, (long long)x->ctx_first_id);
	}
	log_info("xi", x->uuid, "interruption at event %lld", (long long)id);
}

/* Main loop: the ring has room, or a reply may go (playout.h). */
static void wake(void *arg)
{
	struct xi *x = arg;

	playout_push(x->po);
}

static void first_audio(void *arg, uint32_t ctx)
{
	struct xi *x = arg;

	(void)ctx;
	call_play_now(x->call);
}

/* ---- the conversation ---- */

static void booking_done(void *arg, json_t *result, bool booked)
{
	struct xi *x = arg;
	char *text = json_dumps(result, JSON_COMPACT);

	x->booked |= booked;
	send_text(x, xa_tool_result_msg(x->tool_call_id, text ? text : "{}", !booked));
	free(text);
	json_decref(result);
	log_info("xi", x->uuid, "createBooking answered: %s", booked ? "booked" : "not booked");
}

static void tool_call(struct xi *x, const struct xa_msg *m)
{
	log_info("xi", x->uuid, "client tool %s", m->tool_name);
	if (strcmp(m->tool_name, "createBooking") && strcmp(m->tool_name, "create_booking")) {
		send_text(x, xa_tool_result_msg(m->tool_call_id, "no such client tool", true));
		return;
	}
	agent_booking_cancel(x->bk);	/* a second call books once: same reference */
	snprintf(x->tool_call_id, sizeof(x->tool_call_id), "%s", m->tool_call_id);
	if (agent_booking_start(&x->bk, x->call, x->vars, m->params, "cloud", booking_done,
				x) < 0)
		send_text(x, xa_tool_result_msg(m->tool_call_id, "out of memory", true));
}

static int metadata(struct xi *x, const struct xa_msg *m)
{
	struct xa_fmt call = { false, x->rate };
	int rc;

	if ((rc = xa_conv_new(&x->up, call, m->in)) < 0 ||
	    (rc = xa_conv_new(&x->down, m->out, call)) < 0)
		return rc;
	x->up_bytes = (size_t)(m->in.rate * SEND_MS / 1000) * (m->in.ulaw ? 1 : 2);
	x->talking = true;
	log_info("xi", x->uuid, "conversation %s: caller %s %d Hz, agent %s %d Hz",
		 m->conversation_id ? m->conversation_id : "?", m->in.ulaw ? "u-law" : "pcm",
		 m->in.rate, m->out.ulaw ? "u-law" : "pcm", m->out.rate);
	return 0;
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct xi *x = arg;
	struct xa_msg m;

	if (binary || x->stopping || xa_msg_parse(&m, data, len) < 0)
		return;
	switch (m.kind) {
	case XA_METADATA:
		if (!x->talking && metadata(x, &m) < 0) {
			log_error("xi", x->uuid, "out of memory for the audio converters");
			call_hangup_after_playout(x->call, "ElevenLabs bridge out of memory");
		}
		break;
	case XA_AUDIO:
		if (x->talking)
			agent_audio(x, &m);
		break;
	case XA_INTERRUPTION:
		interruption(x, m.event_id);
		break;
	case XA_PING:
		send_text(x, xa_pong_msg(m.event_id));
		break;
	case XA_AGENT_RESPONSE:
		reply_end(x);
		x->turns++;
		transcript_add(x, "agent", m.text);
		break;
	case XA_CORRECTION:
		transcript_correct(x, m.original, m.text);
		break;
	case XA_USER_TRANSCRIPT:
		transcript_add(x, "caller", m.text);
		break;
	case XA_TOOL_CALL:
		tool_call(x, &m);
		break;
	default:
		break;
	}
	xa_msg_clear(&m);
}

static void on_open(void *arg)
{
	struct xi *x = arg;
	json_t *dv = xa_dynamic_vars(x->vars, call_vars(x->call));

	send_text(x, dv ? xa_init_msg(dv) : NULL);
	json_decref(dv);
}

static void on_close(void *arg, int code, int http_status, const char *reason)
{
	struct xi *x = arg;

	ws_close(x->conn);
	x->conn = NULL;
	x->talking = false;
	if (x->stopping)
		return;
	x->over = true;
	if (http_status)
		log_error("xi", x->uuid, "ElevenLabs refused the conversation (HTTP %d: %s)",
			  http_status, reason);
	else
		log_info("xi", x->uuid, "the conversation ended (code %d%s%s)", code,
			 reason && *reason ? ": " : "", reason ? reason : "");
	call_hangup_after_playout(x->call, http_status ? "ElevenLabs refused the conversation" :
				  "the conversation ended");
}

static void xi_free(struct xi *x)
{
	http_abort(x->ctx_req);
	free(x->ctx_fetch);
	http_abort(x->url_req);
	agent_booking_cancel(x->bk);
	json_decref(x->vars);
	json_decref(x->transcript);
	buf_free(&x->url_body);
	buf_free(&x->up_buf);
	buf_free(&x->down_buf);
	buf_free(&x->down_raw);
	xa_conv_free(x->up);
	xa_conv_free(x->down);
	free(x->ws_url);
	playout_detach(x->po);
	free(x);
}

static void on_gone(void *arg)
{
	struct xi *x = arg;

	if (--x->conns == 0 && x->stopping)
		xi_free(x);
}

/*
 * While the agent's audio is queued, its socket waits for the call's tick,
 * as a TTS's does (tts_ws.c). An interruption is then read up to one tick
 * later: at most one more frame of the reply it stops.
 */
static bool may_wait(void *arg)
{
	struct xi *x = arg;

	return playout_may_wait(x->po, x->rate);
}

static const struct ws_handlers handlers = {
	.may_wait = may_wait, .on_open = on_open, .on_message = on_message,
	.on_close = on_close, .on_gone = on_gone,
};

/* Both the context and the URL are known: open the conversation. */
static void maybe_open(struct xi *x)
{
	int rc;

	if (!x->vars || !x->ws_url || x->conn || x->over)
		return;
	rc = ws_open(&x->conn, worker_ws(x->w), x->ws_url, NULL, &handlers, x);
	x->conns += rc == 0;
	explicit_bzero(x->ws_url, strlen(x->ws_url));	/* it holds the signature */
	if (rc < 0) {
		log_error("xi", x->uuid, "cannot open the conversation: %s", strerror(-rc));
		x->over = true;
		call_hangup_after_playout(x->call, "ElevenLabs unavailable");
	}
}

static void context_ready(void *arg, json_t *vars)
{
	struct xi *x = arg;

	x->vars = vars;
	maybe_open(x);
}

static bool url_data(void *arg, const char *data, size_t len)
{
	struct xi *x = arg;

	return buf_append(&x->url_body, data, len) == 0;
}

static void url_done(void *arg, int curl_code, long status, const char *error)
{
	struct xi *x = arg;

	x->url_req = NULL;
	if (!curl_code && status == 200)
		x->ws_url = xa_signed_url((const char *)x->url_body.data, x->url_body.len);
	buf_free(&x->url_body);
	if (!x->ws_url) {
		log_error("xi", x->uuid, "no signed URL from ElevenLabs (%s, HTTP %ld)",
			  error ? error : "no signed_url in the answer", status);
		x->over = true;
		call_hangup_after_playout(x->call, "ElevenLabs unavailable");
		return;
	}
	maybe_open(x);
}

static const struct http_handlers url_handlers = { NULL, url_data, url_done };

/*
 * A private agent (a key is configured): a signed URL, valid 15 minutes,
 * asked for each call. A public one: its URL straight from [elevenlabs] url.
 */
static int start_url(struct xi *x)
{
	const struct conf *c = x->conf;
	char url[600], key[300];
	const char *headers[] = { key, NULL };
	bool tls = !strncmp(c->xi_url, "https:", 6);

	if (!c->secrets->xi_key[0]) {
		x->ws_url = malloc(URL_MAX);
		if (!x->ws_url)
			return -ENOMEM;
		snprintf(x->ws_url, URL_MAX, "%s%s/v1/convai/conversation?agent_id=%s",
			 tls ? "wss:" : "ws:", strchr(c->xi_url, ':') + 1, c->xi_agent_id);
		return 0;
	}
	snprintf(url, sizeof(url), "%s/v1/convai/conversation/get-signed-url?agent_id=%s",
		 c->xi_url, c->xi_agent_id);
	snprintf(key, sizeof(key), "xi-api-key: %s", c->secrets->xi_key);
	struct http_opts o = { .method = "GET", .url = url, .headers = headers,
			       .timeout_ms = URL_TIMEOUT_MS, .connect_timeout_ms = 2000 };
	int rc = http_start(worker_http(x->w), &x->url_req, &o, &url_handlers, x);
	explicit_bzero(key, sizeof(key));
	return rc;
}

/* ---- engine ops ---- */

static int xi_start(struct call *c)
{
	struct xi *x = calloc(1, sizeof(*x));
	int rc;

	if (!x)
		return -ENOMEM;
	x->call = c;
	x->w = call_worker(c);
	x->conf = call_conf(c);
	x->po = call_playout(c);
	x->rate = call_rate(c);
	x->dropped_upto = -1;
	snprintf(x->uuid, sizeof(x->uuid), "%s", call_uuid(c));
	buf_init(&x->url_body, 16384);
	buf_init(&x->up_buf, 1u << 20);
	buf_init(&x->down_buf, PLAYOUT_WAIT_MAX);
	buf_init(&x->down_raw, PLAYOUT_WAIT_MAX);
	playout_attach(x->po, wake, x);	/* until xi_free() */
	playout_on_first_audio(x->po, first_audio, x);
	call_set_engine_state(c, x);
	x->transcript = json_array();
	if (!x->transcript || !worker_ws(x->w) || !worker_http(x->w))
		return -ENOMEM;
	if (!x->conf->xi_agent_id[0] || !strchr(x->conf->xi_url, ':')) {
		log_error("xi", x->uuid, "no [elevenlabs] agent_id or url");
		return -EINVAL;
	}
	if ((rc = start_url(x)) < 0)
		return rc;
	agent_ctx_fetch(x->w, c, &x->ctx_req, &x->ctx_fetch, context_ready, x);
	return 0;
}

static void xi_on_audio(struct call *c, const uint8_t *pcm, size_t samples)
{
	struct xi *x = call_engine_state(c);
	double half = x->conf->local_bargein_rms / 2.0;	/* the local engine's speech level */
	int64_t now = mono_ns();
	bool speech = audio_mean_square_le(pcm, samples) >= half * half;

	if (speech)
		x->voice_ns = now;
	caller_audio(x, !speech && x->voice_ns && now - x->voice_ns < TAIL_MS * NS_PER_MS);
}

/*
 * The caller's frames may wait for a batch except in the quiet after the
 * caller's voice, which goes up frame by frame (caller_audio). Elsewhere
 * they go up in SEND_MS chunks anyway, so a batch delays only when the
 * agent hears the caller begin (a barge-in too), by a batch at most.
 */
static int xi_read_batch_ms(struct call *c)
{
	struct xi *x = call_engine_state(c);

	if (!x || (x->voice_ns && mono_ns() - x->voice_ns < TAIL_MS * NS_PER_MS))
		return 0;
	return BATCH_MS;
}

/*
 * The agent decides when it speaks, so a reply is near until the
 * conversation is up (the greeting), and from the caller's voice until
 * the agent answers it or ANSWER_MS pass. Outside those, audio the agent
 * sends (a nudge of its own) may wait behind silence written ahead: a
 * batch and the lead, about 100 ms.
 */
static bool xi_reply_near(struct call *c)
{
	struct xi *x = call_engine_state(c);

	if (!x || !x->talking)
		return true;
	return x->voice_ns > x->agent_ns && mono_ns() - x->voice_ns < ANSWER_MS * NS_PER_MS;
}

static void xi_summary(struct call *c, struct call_summary *s)
{
	struct xi *x = call_engine_state(c);

	if (!x)
		return;
	snprintf(s->outcome, sizeof(s->outcome), "%s", x->booked ? "booked" :
		 x->over ? "completed" : "caller_hangup");
	s->turns = x->turns;
	s->barge_ins = x->interruptions;
	s->transcript_json = json_dumps(x->transcript, JSON_COMPACT);
}

static void xi_stop(struct call *c)
{
	struct xi *x = call_engine_state(c);

	if (!x)
		return;
	call_set_engine_state(c, NULL);
	x->stopping = true;
	http_abort(x->ctx_req);		/* no callback after these */
	x->ctx_req = NULL;
	http_abort(x->url_req);
	x->url_req = NULL;
	agent_booking_cancel(x->bk);
	x->bk = NULL;
	ws_close(x->conn);
	x->conn = NULL;
	if (x->conns == 0)
		xi_free(x);	/* else on_gone does, once the socket is released */
}

const struct engine_ops engine_elevenlabs = {
	.name = "elevenlabs",
	.silence_when_idle = true,
	.start = xi_start,
	.on_audio = xi_on_audio,
	.read_batch_ms = xi_read_batch_ms,
	.reply_near = xi_reply_near,
	.summary = xi_summary,
	.stop = xi_stop,
};

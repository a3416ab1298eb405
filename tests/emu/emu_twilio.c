/*
 * emu_twilio.c - vagent-emu's TEST DOUBLE of Twilio dialling in over
 * Media Streams (protocols.md 6): `vagent-emu twilio --url ws://...`.
 *
 * Each call is a websocket client that does what Twilio does on a
 * <Connect><Stream>: the upgrade (signed with X-Twilio-Signature when a
 * token is given), connected, start (callSid, streamSid, customParameters
 * did, caller and any --param, 8 kHz mu-law), one 20 ms media message per
 * tick from a WAV (then silence), dtmf at given times, and stop once the caller is
 * done. What vagentd sends is "played" as a phone would: its media queue
 * is drained 160 bytes per tick, a mark is echoed once the audio queued
 * before it has played, and a clear drops the queue and echoes every
 * pending mark at once. With --connect-to the URL may be the public
 * wss:// one Twilio is given: the socket goes plain to HOST:PORT, where a
 * TLS proxy would pass it on, and the Host and signature stay the URL's
 * (the Calls REST emulator dials outbound calls this way, emu_twilio_dial.c).
 *
 * Owns: its own lws context and loop (one thread; no server runs). Prints
 * one JSON object with each call's counts and the turn latencies (the
 * caller's last voiced frame to the first voiced agent audio received),
 * and records call 0's played audio as a WAV if asked.
 * Fails: bad usage exits 2; a call's failure is its outcome.
 */
#include "emu.h"
#include "emu_ws.h"

#include <errno.h>
#include <getopt.h>
#include <libwebsockets.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/wav.h"

#define TICK_US 20000
#define FRAME 160			/* 20 ms of 8 kHz mu-law */
#define MAX_CALLS 1000
#define MAX_DTMF 16
#define MAX_PARAMS 40
#define RX_MAX (1u << 20)
#define TURN_GAP_TICKS 5
#define STOP_WAIT_TICKS 50		/* 1 s for the server to close after stop */

struct item {				/* vagentd's queue at "Twilio": audio or a mark */
	struct item *next;
	char *mark;			/* NULL: audio */
	size_t len, off;
	uint8_t audio[];
};

struct tw_opts {
	const char *url, *wav, *record, *did, *caller, *token, *sign_url, *signature;
	const char *connect_to;		/* HOST:PORT: a TLS proxy's backend, dialled plain */
	const char *call_sid;		/* the one the Calls REST answered; NULL: random */
	const char *params[MAX_PARAMS];	/* more customParameters, NAME=VALUE */
	int nparams;
	int calls, stagger_ms, hold_ms, voice_rms;
	bool no_marks;			/* a platform that never echoes marks */
	struct { char digit; int ms; } dtmf[MAX_DTMF];
	int ndtmf;
};

struct tw_emu;

struct tw_call {
	struct tw_emu *e;
	int idx;
	struct lws *wsi;
	char call_sid[40], stream_sid[40];
	int64_t t0_us;			/* connected: the call's clock starts */
	uint64_t ticks, seq;
	struct ws_txq txq;
	struct item *q, *q_tail;	/* to play */
	char *rx;
	size_t rxlen;
	bool open, done, stop_sent;
	const char *outcome;
	int http_status;
	/* counts */
	uint64_t media_in, bytes_in, marks_in, marks_echoed, clears, played;
	int64_t clear_tick[8];
	int nclear;
	int64_t last_voiced_tx_tick;	/* -1: none */
	bool awaiting;
	double *turn_ms;
	size_t nturn;
	struct wav_writer rec;
};

struct tw_emu {
	struct tw_opts o;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	int16_t *pcm;
	size_t npcm;
	struct tw_call *calls;
	int started, finished;
	int64_t t_start_us;
	char host[256], addr[256], path[512];
	int port;
};

/* ---- the queue vagentd fills ---- */

static void q_push(struct tw_call *c, struct item *it)
{
	if (c->q_tail)
		c->q_tail->next = it;
	else
		c->q = it;
	c->q_tail = it;
}

static void send_json(struct tw_call *c, json_t *j)
{
	ws_txq_push_json(&c->txq, j, 0);
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void echo_mark(struct tw_call *c, const char *name)
{
	if (c->e->o.no_marks)
		return;
	c->marks_echoed++;
	send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s}}", "event", "mark", "sequenceNumber",
			       "0", "streamSid", c->stream_sid, "mark", "name", name));
}

/* Marks at the head have had everything before them played. */
static void echo_due_marks(struct tw_call *c)
{
	while (c->q && c->q->mark) {
		struct item *it = c->q;
		if (!(c->q = it->next))
			c->q_tail = NULL;
		echo_mark(c, it->mark);
		free(it->mark);
		free(it);
	}
}

/* One tick of the phone's speaker: 160 bytes of what is queued, or silence. */
static void play_tick(struct tw_call *c, int16_t *out)
{
	size_t got = 0;

	memset(out, 0, FRAME * sizeof(*out));
	echo_due_marks(c);
	while (got < FRAME && c->q && !c->q->mark) {
		struct item *it = c->q;
		size_t n = it->len - it->off < FRAME - got ? it->len - it->off : FRAME - got;
		for (size_t i = 0; i < n; i++)
			out[got + i] = emu_ulaw_decode(it->audio[it->off + i]);
		got += n;
		it->off += n;
		if (it->off == it->len) {
			if (!(c->q = it->next))
				c->q_tail = NULL;
			free(it);
		}
		echo_due_marks(c);
	}
	c->played += got;
}

static void on_clear(struct tw_call *c)
{
	if (c->nclear < 8)
		c->clear_tick[c->nclear++] = (int64_t)c->ticks;
	c->clears++;
	while (c->q) {
		struct item *it = c->q;
		c->q = it->next;
		if (it->mark) {
			echo_mark(c, it->mark);
			free(it->mark);
		}
		free(it);
	}
	c->q_tail = NULL;
}

/* ---- what vagentd sends ---- */

static bool voiced(const struct tw_call *c, const uint8_t *u, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++) {
		double v = emu_ulaw_decode(u[i]);
		sum += v * v;
	}
	return n && sum / (double)n > (double)c->e->o.voice_rms * c->e->o.voice_rms;
}

static void on_media(struct tw_call *c, json_t *m)
{
	const char *b64 = json_string_value(json_object_get(json_object_get(m, "media"),
							   "payload"));
	size_t len = b64 ? strlen(b64) : 0;
	struct item *it = malloc(sizeof(*it) + len);

	if (!it)
		return;
	int n = b64 ? lws_b64_decode_string(b64, (char *)it->audio, (int)len + 1) : -1;
	if (n <= 0) {
		free(it);
		return;
	}
	*it = (struct item){ .len = (size_t)n };
	c->media_in++;
	c->bytes_in += (size_t)n;
	if (c->awaiting && (int64_t)c->ticks - c->last_voiced_tx_tick >= TURN_GAP_TICKS &&
	    voiced(c, it->audio, it->len)) {
		double ms = (double)(emu_now_us() - c->t0_us) / 1000.0 -
			    (double)c->last_voiced_tx_tick * TICK_US / 1000.0;
		double *t = realloc(c->turn_ms, (c->nturn + 1) * sizeof(*t));
		if (t) {
			c->turn_ms = t;
			c->turn_ms[c->nturn++] = ms;
		}
		c->awaiting = false;
	}
	q_push(c, it);
}

static void on_message(struct tw_call *c, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL);
	const char *ev = json_string_value(json_object_get(m, "event"));

	if (!ev) {
		log_warn("twilio", NULL, "call %d: not a Media Streams message", c->idx);
	} else if (!strcmp(ev, "media")) {
		on_media(c, m);
	} else if (!strcmp(ev, "mark")) {
		const char *name = json_string_value(json_object_get(json_object_get(m, "mark"),
								     "name"));
		struct item *it = calloc(1, sizeof(*it));
		c->marks_in++;
		if (it && name && (it->mark = strdup(name)))
			q_push(c, it);
		else
			free(it);
		echo_due_marks(c);	/* nothing queued before it: echoed at once */
	} else if (!strcmp(ev, "clear")) {
		on_clear(c);
	}
	json_decref(m);
}

/* ---- the caller's side ---- */

static void send_start(struct tw_call *c)
{
	struct tw_opts *o = &c->e->o;

	send_json(c, json_pack("{s:s, s:s, s:s}", "event", "connected", "protocol", "Call",
			       "version", "1.0.0"));
	json_t *params = json_pack("{s:s, s:s}", "did", o->did, "caller", o->caller);
	for (int i = 0; params && i < o->nparams; i++) {
		const char *eq = strchr(o->params[i], '=');
		char name[128];
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->params[i]), o->params[i]);
		json_object_set_new(params, name, json_string(eq + 1));
	}
	send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:[s], s:o, "
			       "s:{s:s, s:i, s:i}}}",
			       "event", "start", "sequenceNumber", "1", "streamSid", c->stream_sid,
			       "start", "accountSid", "ACemulator", "streamSid", c->stream_sid,
			       "callSid", c->call_sid, "tracks", "inbound",
			       "customParameters", params,
			       "mediaFormat", "encoding", "audio/x-mulaw", "sampleRate", 8000,
			       "channels", 1));
	c->seq = 1;
}

static void send_frame(struct tw_call *c)
{
	struct tw_emu *e = c->e;
	uint8_t u[FRAME];
	size_t at = (size_t)c->ticks * FRAME;
	bool loud = false;
	char seq[24], chunk[24], ts[24];

	for (size_t i = 0; i < FRAME; i++)
		u[i] = emu_ulaw_encode(at + i < e->npcm ? e->pcm[at + i] : 0);
	loud = voiced(c, u, FRAME);
	if (loud) {
		c->last_voiced_tx_tick = (int64_t)c->ticks;
		c->awaiting = true;
	}
	char *b64 = emu_base64(u, FRAME);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)++c->seq);
	snprintf(chunk, sizeof(chunk), "%llu", (unsigned long long)c->ticks + 1);
	snprintf(ts, sizeof(ts), "%llu", (unsigned long long)c->ticks * 20);
	if (b64)
		send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "event", "media",
				       "sequenceNumber", seq, "streamSid", c->stream_sid, "media",
				       "track", "inbound", "chunk", chunk, "timestamp", ts,
				       "payload", b64));
	free(b64);
	for (int i = 0; i < e->o.ndtmf; i++)
		if (e->o.dtmf[i].ms / 20 == (int)c->ticks)
			send_json(c, json_pack("{s:s, s:s, s:{s:s, s:s#}}", "event", "dtmf",
					       "streamSid", c->stream_sid, "dtmf", "track",
					       "inbound_track", "digit", &e->o.dtmf[i].digit, 1));
}

static void call_tick(struct tw_call *c, int64_t now)
{
	struct tw_emu *e = c->e;
	int16_t heard[FRAME];
	uint64_t end = (e->npcm + FRAME - 1) / FRAME + (uint64_t)e->o.hold_ms / 20;
	uint64_t due = (uint64_t)((now - c->t0_us) / TICK_US);

	/* After stop the server closes; if it does not, Twilio's side does. */
	if (c->open && c->stop_sent && due > c->ticks + STOP_WAIT_TICKS && c->wsi)
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	while (c->open && !c->stop_sent && c->ticks <= due) {
		if (c->ticks >= end) {
			send_json(c, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "event", "stop",
					       "sequenceNumber", "0", "streamSid", c->stream_sid,
					       "stop", "accountSid", "ACemulator", "callSid",
					       c->call_sid));
			c->stop_sent = true;
			break;
		}
		send_frame(c);
		play_tick(c, heard);
		if (c->rec.fp)
			wav_writer_append(&c->rec, heard, FRAME);
		c->ticks++;
	}
}

/* ---- connections ---- */

static void finish(struct tw_call *c, const char *outcome)
{
	if (c->done)
		return;
	c->done = true;
	c->open = false;
	c->wsi = NULL;
	if (!c->outcome)
		c->outcome = outcome;
	c->e->finished++;
	wav_writer_close(&c->rec);
}

static int sign(const struct tw_opts *o, char *out, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (o->signature) {
		snprintf(out, len, "%s", o->signature);
		return 0;
	}
	if (!o->token)
		return -1;
	const char *url = o->sign_url ? o->sign_url : o->url;
	if (!HMAC(EVP_sha1(), o->token, (int)strlen(o->token), (const unsigned char *)url,
		  strlen(url), mac, &n))
		return -1;
	char *b64 = emu_base64(mac, n);
	snprintf(out, len, "%s", b64 ? b64 : "");
	free(b64);
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct tw_call *c = lws_get_opaque_user_data(wsi);
	(void)user;

	if (!c)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		char sig[64];
		unsigned char **p = in, *end = *p + len;
		if (sign(&c->e->o, sig, sizeof(sig)) == 0 &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Twilio-Signature:",
						(const unsigned char *)sig, (int)strlen(sig), p, end))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->wsi = wsi;
		c->open = true;
		c->t0_us = emu_now_us();
		send_start(c);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		char *p = realloc(c->rx, c->rxlen + len + 1);
		if (!p || c->rxlen + len > RX_MAX)
			return -1;
		c->rx = p;
		memcpy(c->rx + c->rxlen, in, len);
		c->rxlen += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			on_message(c, c->rx, c->rxlen);
			c->rxlen = 0;
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		struct ws_msg *m = ws_txq_pop_due(&c->txq, INT64_MAX);
		if (m && ws_send(wsi, m) < 0)
			return -1;
		if (c->txq.head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c->http_status = (int)lws_http_client_http_response(wsi);
		log_info("twilio", NULL, "call %d: refused (%s, HTTP %d)", c->idx,
			 in ? (const char *)in : "-", c->http_status);
		finish(c, "refused");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		finish(c, c->stop_sent ? "completed" : "server_closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		finish(c, c->stop_sent ? "completed" : "server_closed");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "twilio-emu", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void dial(struct tw_emu *e, struct tw_call *c)
{
	struct lws_client_connect_info ci;
	struct emu_rng rng;

	emu_rng_seed(&rng, (uint64_t)c->idx * 7919 + (uint64_t)emu_now_us());
	if (e->o.call_sid && c->idx == 0)
		snprintf(c->call_sid, sizeof(c->call_sid), "%s", e->o.call_sid);
	else
		emu_rand_id(&rng, "CA", 32, c->call_sid, sizeof(c->call_sid));
	emu_rand_id(&rng, "MZ", 32, c->stream_sid, sizeof(c->stream_sid));
	c->last_voiced_tx_tick = -1;
	if (c->idx == 0 && e->o.record && wav_writer_open(&c->rec, e->o.record, 8000) < 0)
		log_warn("twilio", NULL, "cannot record to %s", e->o.record);
	memset(&ci, 0, sizeof(ci));
	ci.context = e->ctx;
	ci.address = e->addr;
	ci.port = e->port;
	ci.path = e->path;
	ci.host = e->host;	/* the URL's, also behind --connect-to, as a proxy passes it */
	ci.origin = e->host;
	ci.local_protocol_name = "twilio-emu";
	ci.opaque_user_data = c;
	e->started++;
	if (!lws_client_connect_via_info(&ci) && !c->done)
		finish(c, "connect_error");
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct tw_emu *e = lws_container_of(sul, struct tw_emu, sul);
	int64_t now = emu_now_us();

	while (e->started < e->o.calls &&
	       (int64_t)e->started * e->o.stagger_ms * 1000 <= now - e->t_start_us)
		dial(e, &e->calls[e->started]);
	for (int i = 0; i < e->started; i++)
		if (e->calls[i].open)
			call_tick(&e->calls[i], now);
	lws_sul_schedule(e->ctx, 0, &e->sul, on_tick, TICK_US);
}

/* ---- the report ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void report(const struct tw_emu *e)
{
	json_t *results = json_array(), *turns = json_array();
	size_t nall = 0, completed = 0, refused = 0, closed = 0;
	double *all = NULL;

	for (int i = 0; i < e->o.calls; i++) {
		const struct tw_call *c = &e->calls[i];
		json_t *clears = json_array();
		for (int k = 0; k < c->nclear; k++)
			json_array_append_new(clears, json_integer(c->clear_tick[k] * 20));
		json_t *tm = json_array();
		for (size_t k = 0; k < c->nturn; k++)
			json_array_append_new(tm, json_real(c->turn_ms[k]));
		double *p = realloc(all, (nall + c->nturn + 1) * sizeof(*all));
		if (p) {
			all = p;
			if (c->nturn)
				memcpy(all + nall, c->turn_ms, c->nturn * sizeof(*all));
			nall += c->nturn;
		}
		const char *out = c->outcome ? c->outcome : "unfinished";
		completed += !strcmp(out, "completed");
		refused += !strcmp(out, "refused");
		closed += !strcmp(out, "server_closed");
		json_array_append_new(results, json_pack(
			"{s:i, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:o}",
			"index", i, "call_sid", c->call_sid, "outcome", out,
			"http_status", c->http_status, "media_in", (json_int_t)c->media_in,
			"bytes_in", (json_int_t)c->bytes_in, "marks_in", (json_int_t)c->marks_in,
			"marks_echoed", (json_int_t)c->marks_echoed, "clears", (json_int_t)c->clears,
			"clear_at_ms", clears, "played_s", (double)c->played / 8000.0,
			"turn_ms", tm));
	}
	if (nall)
		qsort(all, nall, sizeof(*all), cmp_double);
	json_decref(turns);
	json_t *top = json_pack("{s:i, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:o}",
				"calls", e->o.calls, "completed", (json_int_t)completed,
				"server_closed", (json_int_t)closed, "refused", (json_int_t)refused,
				"turns", (json_int_t)nall, "turn_p50_ms", pct(all, nall, 50),
				"turn_p99_ms", pct(all, nall, 99),
				"turn_max_ms", nall ? all[nall - 1] : 0.0, "results", results);
	char *text = json_dumps(top, EMU_JSON_FLAGS);
	if (text)
		printf("%s\n", text);
	free(text);
	free(all);
	json_decref(top);
}

/* ---- options ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
"usage: vagent-emu twilio --url ws://HOST:PORT/PATH [--wav FILE] [--calls N]\n"
"                  [--stagger-ms MS] [--hold-ms 2000] [--did D] [--caller C]\n"
"                  [--token T [--sign-url URL] | --signature S] [--dtmf D@MS]...\n"
"                  [--record FILE] [--voice-rms 300] [--no-marks] [--log FILE]\n"
"                  [--connect-to HOST:PORT] [--param NAME=VALUE]... [--call-sid SID]\n"
"       vagent-emu twilio --relay --help: ConversationRelay instead\n"
"Dials vagentd as Twilio does for <Connect><Stream>, plays the WAV (8 kHz\n"
"mono) as the caller, then hold-ms of silence, then stop; prints JSON.\n"
"  --token T       sign the upgrade: HMAC-SHA1 of --sign-url (default --url)\n"
"  --signature S   send this X-Twilio-Signature as it is\n"
"  --record FILE   what call 0's phone played, as a WAV\n"
"  --no-marks      never echo a mark (a platform without them)\n"
"  --connect-to H:P  dial H:P (plain ws, a TLS proxy's backend) for the URL,\n"
"                  which may then be wss://; the Host and signature stay the URL's\n"
"  --param N=V     one more customParameter (did and caller too)\n"
"  --call-sid SID  call 0's callSid (the one the Calls REST answered)\n");
}

static int parse(int argc, char **argv, struct tw_opts *o)
{
	static const struct option lo[] = {
		{ "url", 1, NULL, 'u' }, { "wav", 1, NULL, 'w' }, { "calls", 1, NULL, 'n' },
		{ "stagger-ms", 1, NULL, 's' }, { "hold-ms", 1, NULL, 'H' },
		{ "did", 1, NULL, 'd' }, { "caller", 1, NULL, 'c' }, { "token", 1, NULL, 't' },
		{ "sign-url", 1, NULL, 'S' }, { "signature", 1, NULL, 'g' },
		{ "dtmf", 1, NULL, 'D' }, { "record", 1, NULL, 'r' },
		{ "voice-rms", 1, NULL, 'v' }, { "no-marks", 0, NULL, 'M' }, { "log", 1, NULL, 'l' },
		{ "connect-to", 1, NULL, 'C' }, { "param", 1, NULL, 'P' }, { "call-sid", 1, NULL, 'i' },
		{ "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_path = NULL;
	int ch;

	*o = (struct tw_opts){ .calls = 1, .hold_ms = 2000, .voice_rms = 300,
			       .did = "", .caller = "" };
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'w': o->wav = optarg; break;
		case 'n': o->calls = atoi(optarg); break;
		case 's': o->stagger_ms = atoi(optarg); break;
		case 'H': o->hold_ms = atoi(optarg); break;
		case 'd': o->did = optarg; break;
		case 'c': o->caller = optarg; break;
		case 't': o->token = optarg; break;
		case 'S': o->sign_url = optarg; break;
		case 'g': o->signature = optarg; break;
		case 'r': o->record = optarg; break;
		case 'v': o->voice_rms = atoi(optarg); break;
		case 'M': o->no_marks = true; break;
		case 'l': log_path = optarg; break;
		case 'C': o->connect_to = optarg; break;
		case 'i': o->call_sid = optarg; break;
		case 'P':
			if (o->nparams == MAX_PARAMS || !strchr(optarg, '=') || optarg[0] == '=' ||
			    strchr(optarg, '=') - optarg >= 128)
				return -1;
			o->params[o->nparams++] = optarg;
			break;
		case 'D':
			if (o->ndtmf == MAX_DTMF || strlen(optarg) < 3 || optarg[1] != '@')
				return -1;
			o->dtmf[o->ndtmf].digit = optarg[0];
			o->dtmf[o->ndtmf++].ms = atoi(optarg + 2);
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (log_open("vagent-emu", log_path, false, LOG_LVL_INFO))
		return -1;
	return o->url && o->calls >= 1 && o->calls <= MAX_CALLS && o->stagger_ms >= 0 &&
	       o->hold_ms >= 0 && optind == argc ? 0 : -1;
}

static int setup(struct tw_emu *e)
{
	char url[1024], err[256];
	const char *prot, *addr, *path;
	struct wav w;

	snprintf(url, sizeof(url), "%s", e->o.url);
	if (lws_parse_uri(url, &prot, &addr, &e->port, &path) ||
	    (strcmp(prot, "ws") && (strcmp(prot, "wss") || !e->o.connect_to)))
		return -EINVAL;
	snprintf(e->host, sizeof(e->host), "%s", addr);
	snprintf(e->addr, sizeof(e->addr), "%s", addr);
	snprintf(e->path, sizeof(e->path), "/%s", path);
	if (e->o.connect_to) {
		const char *colon = strrchr(e->o.connect_to, ':');
		e->port = colon ? atoi(colon + 1) : 0;
		if (!colon || colon == e->o.connect_to || e->port <= 0 || e->port > 65535)
			return -EINVAL;
		snprintf(e->addr, sizeof(e->addr), "%.*s", (int)(colon - e->o.connect_to),
			 e->o.connect_to);
	}
	if (e->o.wav) {
		if (wav_load(e->o.wav, &w, err, sizeof(err)) < 0 || w.rate != 8000) {
			fprintf(stderr, "vagent-emu twilio: --wav %s: %s\n", e->o.wav,
				err[0] ? err : "not 8 kHz");
			return -EINVAL;
		}
		e->pcm = w.samples;
		e->npcm = w.nsamples;
	}
	e->calls = calloc((size_t)e->o.calls, sizeof(*e->calls));
	if (!e->calls)
		return -ENOMEM;
	for (int i = 0; i < e->o.calls; i++) {
		e->calls[i].e = e;
		e->calls[i].idx = i;
	}
	return 0;
}

int emu_twilio_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct tw_emu e;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--relay"))
			return emu_twilio_relay_main(argc, argv);
	memset(&e, 0, sizeof(e));
	if (parse(argc, argv, &e.o) < 0) {
		usage(stderr);
		return 2;
	}
	if (setup(&e) < 0)
		return 2;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = (unsigned)(e.o.calls + 16);
	if (!(e.ctx = lws_create_context(&info))) {
		fprintf(stderr, "vagent-emu twilio: cannot create the lws context\n");
		return 1;
	}
	e.t_start_us = emu_now_us();
	lws_sul_schedule(e.ctx, 0, &e.sul, on_tick, 1);
	while (e.finished < e.o.calls)
		if (lws_service(e.ctx, 0) < 0)
			break;
	lws_sul_cancel(&e.sul);
	lws_context_destroy(e.ctx);
	report(&e);
	for (int i = 0; i < e.o.calls; i++) {
		struct tw_call *c = &e.calls[i];
		while (c->q) {
			struct item *it = c->q;
			c->q = it->next;
			free(it->mark);
			free(it);
		}
		ws_txq_clear(&c->txq);
		free(c->turn_ms);
		free(c->rx);
	}
	free(e.calls);
	free(e.pcm);
	return 0;
}

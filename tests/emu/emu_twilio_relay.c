/*
 * emu_twilio_relay.c - vagent-emu's TEST DOUBLE of Twilio dialling in over
 * ConversationRelay (protocols.md 6.6): `vagent-emu twilio --relay ...`.
 *
 * One call: the upgrade (signed with X-Twilio-Signature when a token is
 * given), setup (callSid, from, to, customParameters did and caller),
 * then a script of steps, each a prompt (the caller's final words), an
 * interrupt (what the caller heard of the agent's latest reply) or a dtmf
 * key. A step waits for the agent's talk cycle that followed the previous
 * step to end (a text with last=true); "+" before a step sends it at once,
 * "~" as soon as any text has come since the previous step. The first step
 * goes --first-ms after setup (Twilio's welcomeGreeting plays meanwhile).
 * After the last step the caller stays --hold-ms, then hangs up (closes).
 *
 * Prints one JSON object: the outcome ("completed": we hung up;
 * "server_closed"; "refused"), the replies (each talk cycle's tokens
 * joined), how many text messages came, and the end's handoffData if any.
 * Fails: bad usage exits 2; a call's failure is its outcome.
 */
#include "emu.h"
#include "emu_ws.h"

#include <getopt.h>
#include <libwebsockets.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

#define TICK_US 20000
#define MAX_STEPS 32
#define RX_MAX (1u << 20)
#define GAP_US 200000		/* the caller's pause after the agent's turn */

struct text {			/* a growing string */
	char *p;
	size_t len;
};

struct rl_step {
	char kind;		/* 'p' prompt, 'i' interrupt, 'd' dtmf */
	char wait;		/* 'r' reply ended, '+' none, '~' any text */
	const char *text;
};

struct rl_emu {
	const char *url, *did, *caller, *token, *sign_url, *signature;
	int first_ms, hold_ms;
	struct rl_step steps[MAX_STEPS];
	int nsteps, next;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	struct lws *wsi;
	struct ws_txq txq;
	char host[256], path[512], call_sid[40];
	int port;
	bool open, done, hung_up;
	int64_t t_setup_us, t_quiet_us, hold_until_us;
	uint64_t cycles, texts;		/* talk cycles ended, text messages */
	uint64_t cycles_at_step, texts_at_step;
	struct text reply, rx;
	json_t *replies;
	char *handoff;
	const char *outcome;
	int http_status;
};

static int text_add(struct text *t, const void *p, size_t n)
{
	char *q = t->len + n <= RX_MAX ? realloc(t->p, t->len + n + 1) : NULL;

	if (!q)
		return -1;
	memcpy(q + t->len, p, n);
	t->len += n;
	q[t->len] = '\0';
	t->p = q;
	return 0;
}

static void send_json(struct rl_emu *e, json_t *j)
{
	ws_txq_push_json(&e->txq, j, 0);
	if (e->wsi)
		lws_callback_on_writable(e->wsi);
}

static void on_message(struct rl_emu *e, const char *text, size_t len)
{
	json_t *m = json_loadb(text, len, 0, NULL);
	const char *type = json_string_value(json_object_get(m, "type"));

	if (type && !strcmp(type, "text")) {
		const char *tok = json_string_value(json_object_get(m, "token"));
		e->texts++;
		if (tok)
			text_add(&e->reply, tok, strlen(tok));
		if (json_is_true(json_object_get(m, "last"))) {
			json_array_append_new(e->replies, json_string(e->reply.len ? e->reply.p : ""));
			e->reply.len = 0;
			e->cycles++;
			e->t_quiet_us = emu_now_us();
		}
	} else if (type && !strcmp(type, "end")) {
		const char *h = json_string_value(json_object_get(m, "handoffData"));
		free(e->handoff);
		e->handoff = strdup(h ? h : "");
	} else {
		log_warn("twilio", NULL, "relay: unexpected message %.*s", (int)len, text);
	}
	json_decref(m);
}

static void send_setup(struct rl_emu *e)
{
	send_json(e, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}}",
			       "type", "setup", "sessionId", "VXemulator", "accountSid", "ACemulator",
			       "callSid", e->call_sid, "from", e->caller, "to", e->did,
			       "callType", "PSTN", "direction", "inbound", "callStatus",
			       "IN-PROGRESS", "forwardedFrom", "",
			       "customParameters", "did", e->did, "caller", e->caller));
	e->t_setup_us = emu_now_us();
}

static void send_step(struct rl_emu *e, const struct rl_step *s)
{
	if (s->kind == 'p')
		send_json(e, json_pack("{s:s, s:s, s:s, s:b}", "type", "prompt", "voicePrompt",
				       s->text, "lang", "en-GB", "last", 1));
	else if (s->kind == 'i')
		send_json(e, json_pack("{s:s, s:s, s:f}", "type", "interrupt",
				       "utteranceUntilInterrupt", s->text,
				       "durationUntilInterruptMs", 1234.5));
	else
		send_json(e, json_pack("{s:s, s:s}", "type", "dtmf", "digit", s->text));
	e->cycles_at_step = e->cycles;
	e->texts_at_step = e->texts;
}

static bool step_due(const struct rl_emu *e, const struct rl_step *s, int64_t now)
{
	if (e->next == 0)
		return now - e->t_setup_us >= (int64_t)e->first_ms * 1000;
	if (s->wait == '+')
		return true;
	if (s->wait == '~')
		return e->texts > e->texts_at_step;
	return e->cycles > e->cycles_at_step && now - e->t_quiet_us >= GAP_US;
}

static void tick(struct rl_emu *e, int64_t now)
{
	while (e->next < e->nsteps && step_due(e, &e->steps[e->next], now)) {
		send_step(e, &e->steps[e->next++]);
		if (e->next == e->nsteps)
			e->hold_until_us = now + (int64_t)e->hold_ms * 1000;
	}
	if (e->next == e->nsteps && !e->hung_up && now >= e->hold_until_us && e->wsi) {
		e->hung_up = true;	/* the caller hangs up: Twilio closes */
		lws_set_timeout(e->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

static void finish(struct rl_emu *e, const char *outcome)
{
	if (e->done)
		return;
	e->done = true;
	e->open = false;
	e->wsi = NULL;
	if (!e->outcome)
		e->outcome = outcome;
}

static int sign(const struct rl_emu *e, char *out, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	const char *url = e->sign_url ? e->sign_url : e->url;

	if (e->signature) {
		snprintf(out, len, "%s", e->signature);
		return 0;
	}
	if (!e->token || !HMAC(EVP_sha1(), e->token, (int)strlen(e->token),
			       (const unsigned char *)url, strlen(url), mac, &n))
		return -1;
	char *b64 = emu_base64(mac, n);
	snprintf(out, len, "%s", b64 ? b64 : "");
	free(b64);
	return 0;
}

static int on_rx(struct rl_emu *e, struct lws *wsi, const void *in, size_t len)
{
	if (text_add(&e->rx, in, len) < 0)
		return -1;
	if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
		on_message(e, e->rx.p, e->rx.len);
		e->rx.len = 0;
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct rl_emu *e = lws_get_opaque_user_data(wsi);
	(void)user;

	if (!e)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		char sig[64];
		unsigned char **p = in, *end = *p + len;
		if (sign(e, sig, sizeof(sig)) == 0 &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Twilio-Signature:",
						(const unsigned char *)sig, (int)strlen(sig), p, end))
			return -1;
		return 0;
	}
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		e->wsi = wsi;
		e->open = true;
		send_setup(e);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_rx(e, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		struct ws_msg *m = ws_txq_pop_due(&e->txq, INT64_MAX);
		if (m && ws_send(wsi, m) < 0)
			return -1;
		if (e->txq.head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		e->http_status = (int)lws_http_client_http_response(wsi);
		log_info("twilio", NULL, "relay: refused (%s, HTTP %d)", in ? (const char *)in : "-",
			 e->http_status);
		finish(e, "refused");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		finish(e, e->hung_up ? "completed" : "server_closed");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "twilio-relay-emu", callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct rl_emu *e = lws_container_of(sul, struct rl_emu, sul);

	if (e->open)
		tick(e, emu_now_us());
	lws_sul_schedule(e->ctx, 0, &e->sul, on_tick, TICK_US);
}

static void dial(struct rl_emu *e)
{
	struct lws_client_connect_info ci;
	struct emu_rng rng;

	emu_rng_seed(&rng, (uint64_t)emu_now_us());
	emu_rand_id(&rng, "CA", 32, e->call_sid, sizeof(e->call_sid));
	memset(&ci, 0, sizeof(ci));
	ci.context = e->ctx;
	ci.address = e->host;
	ci.port = e->port;
	ci.path = e->path;
	ci.host = e->host;
	ci.origin = e->host;
	ci.local_protocol_name = "twilio-relay-emu";
	ci.opaque_user_data = e;
	if (!lws_client_connect_via_info(&ci) && !e->done)
		finish(e, "connect_error");
}

static void report(const struct rl_emu *e)
{
	json_t *top = json_pack("{s:s, s:s, s:i, s:I, s:I, s:O, s:s?, s:i}",
				"call_sid", e->call_sid, "outcome", e->outcome ? e->outcome :
				"unfinished", "http_status", e->http_status,
				"texts", (json_int_t)e->texts, "cycles", (json_int_t)e->cycles,
				"replies", e->replies, "handoff_data", e->handoff,
				"steps_sent", e->next);
	char *text = top ? json_dumps(top, EMU_JSON_FLAGS) : NULL;

	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(top);
}

/* ---- options ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
"usage: vagent-emu twilio --relay --url ws://HOST:PORT/twilio/relay [--did D]\n"
"                  [--caller C] [--token T [--sign-url URL] | --signature S]\n"
"                  [--first-ms 1000] [--hold-ms 2000] [--log FILE]\n"
"                  [--step [+~]prompt:TEXT | [+~]interrupt:HEARD | [+~]dtmf:D]...\n"
"Dials vagentd as Twilio does for <Connect><ConversationRelay>; prints JSON.\n"
"  a step waits for the agent's reply to end; + sends it at once, ~ once any\n"
"  text has come since the step before\n");
}

static int add_step(struct rl_emu *e, const char *arg)
{
	struct rl_step *s = &e->steps[e->nsteps];

	if (e->nsteps == MAX_STEPS)
		return -1;
	s->wait = (*arg == '+' || *arg == '~') ? *arg++ : 'r';
	if (!strncmp(arg, "prompt:", 7))
		s->kind = 'p', s->text = arg + 7;
	else if (!strncmp(arg, "interrupt:", 10))
		s->kind = 'i', s->text = arg + 10;
	else if (!strncmp(arg, "dtmf:", 5) && strlen(arg) == 6)
		s->kind = 'd', s->text = arg + 5;
	else
		return -1;
	e->nsteps++;
	return 0;
}

static int parse(int argc, char **argv, struct rl_emu *e)
{
	static const struct option lo[] = {
		{ "relay", 0, NULL, 'R' }, { "url", 1, NULL, 'u' }, { "did", 1, NULL, 'd' },
		{ "caller", 1, NULL, 'c' }, { "token", 1, NULL, 't' },
		{ "sign-url", 1, NULL, 'S' }, { "signature", 1, NULL, 'g' },
		{ "first-ms", 1, NULL, 'f' }, { "hold-ms", 1, NULL, 'H' },
		{ "step", 1, NULL, 's' }, { "log", 1, NULL, 'l' }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_path = NULL;
	int ch;

	e->did = e->caller = "";
	e->first_ms = 1000;
	e->hold_ms = 2000;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'R': break;
		case 'u': e->url = optarg; break;
		case 'd': e->did = optarg; break;
		case 'c': e->caller = optarg; break;
		case 't': e->token = optarg; break;
		case 'S': e->sign_url = optarg; break;
		case 'g': e->signature = optarg; break;
		case 'f': e->first_ms = atoi(optarg); break;
		case 'H': e->hold_ms = atoi(optarg); break;
		case 's': if (add_step(e, optarg) < 0) return -1; break;
		case 'l': log_path = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (log_open("vagent-emu", log_path, false, LOG_LVL_INFO))
		return -1;
	return e->url && e->first_ms >= 0 && e->hold_ms >= 0 && optind == argc ? 0 : -1;
}

static int setup(struct rl_emu *e)
{
	char url[1024];
	const char *prot, *addr, *path;

	snprintf(url, sizeof(url), "%s", e->url);
	if (lws_parse_uri(url, &prot, &addr, &e->port, &path) || strcmp(prot, "ws"))
		return -1;
	snprintf(e->host, sizeof(e->host), "%s", addr);
	snprintf(e->path, sizeof(e->path), "/%s", path);
	e->replies = json_array();
	return e->replies ? 0 : -1;
}

int emu_twilio_relay_main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct rl_emu e;

	memset(&e, 0, sizeof(e));
	if (parse(argc, argv, &e) < 0) {
		usage(stderr);
		return 2;
	}
	if (setup(&e) < 0)
		return 2;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	if (!(e.ctx = lws_create_context(&info))) {
		fprintf(stderr, "vagent-emu twilio --relay: cannot create the lws context\n");
		return 1;
	}
	dial(&e);
	lws_sul_schedule(e.ctx, 0, &e.sul, on_tick, TICK_US);
	while (!e.done)
		if (lws_service(e.ctx, 0) < 0)
			break;
	lws_sul_cancel(&e.sul);
	lws_context_destroy(e.ctx);
	report(&e);
	ws_txq_clear(&e.txq);
	free(e.reply.p);
	free(e.rx.p);
	json_decref(e.replies);
	free(e.handoff);
	return 0;
}

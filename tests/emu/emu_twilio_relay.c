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
#include "emu_twilio_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

#define TICK_US 20000
#define MAX_STEPS 32
#define REPLY_MAX (1u << 20)
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
	struct tw_target t;		/* --url and the rest every dialler takes */
	int first_ms;
	struct rl_step steps[MAX_STEPS];
	int nsteps, next;
	struct lws_context *ctx;
	lws_sorted_usec_list_t sul;
	struct tw_link link;
	char call_sid[40];
	bool open, done, hung_up;
	int64_t t_setup_us, t_quiet_us, hold_until_us;
	uint64_t cycles, texts;		/* talk cycles ended, text messages */
	uint64_t cycles_at_step, texts_at_step;
	struct text reply;
	json_t *replies;
	char *handoff;
	const char *outcome;
};

static int text_add(struct text *t, const void *p, size_t n)
{
	char *q = t->len + n <= REPLY_MAX ? realloc(t->p, t->len + n + 1) : NULL;

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
	tw_send_json(&e->link, j);
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
			       "callSid", e->call_sid, "from", e->t.caller, "to", e->t.did,
			       "callType", "PSTN", "direction", "inbound", "callStatus",
			       "IN-PROGRESS", "forwardedFrom", "",
			       "customParameters", "did", e->t.did, "caller", e->t.caller));
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
			e->hold_until_us = now + (int64_t)e->t.hold_ms * 1000;
	}
	if (e->next == e->nsteps && !e->hung_up && now >= e->hold_until_us && e->link.wsi) {
		e->hung_up = true;	/* the caller hangs up: Twilio closes */
		lws_set_timeout(e->link.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
}

static void finish(struct rl_emu *e, const char *outcome)
{
	if (e->done)
		return;
	e->done = true;
	e->open = false;
	e->link.wsi = NULL;
	if (!e->outcome)
		e->outcome = outcome;
}

static void on_open(struct tw_link *l)
{
	struct rl_emu *e = lws_container_of(l, struct rl_emu, link);

	e->open = true;
	send_setup(e);
}

static void on_link_message(struct tw_link *l, const char *text, size_t len)
{
	on_message(lws_container_of(l, struct rl_emu, link), text, len);
}

static void on_end(struct tw_link *l, const char *refused)
{
	struct rl_emu *e = lws_container_of(l, struct rl_emu, link);

	if (refused)
		log_info("twilio", NULL, "relay: refused (%s, HTTP %d)", refused, l->http_status);
	finish(e, refused ? "refused" : e->hung_up ? "completed" : "server_closed");
}

static const struct tw_link_ops link_ops = { on_open, on_link_message, on_end };

static void on_tick(lws_sorted_usec_list_t *sul)
{
	struct rl_emu *e = lws_container_of(sul, struct rl_emu, sul);

	if (e->open)
		tick(e, emu_now_us());
	lws_sul_schedule(e->ctx, 0, &e->sul, on_tick, TICK_US);
}

static void dial(struct rl_emu *e)
{
	struct emu_rng rng;

	emu_rng_seed(&rng, (uint64_t)emu_now_us());
	emu_rand_id(&rng, "CA", 32, e->call_sid, sizeof(e->call_sid));
	if (tw_connect(e->ctx, &e->link) && !e->done)
		finish(e, "connect_error");
}

static void report(const struct rl_emu *e)
{
	json_t *top = json_pack("{s:s, s:s, s:i, s:I, s:I, s:O, s:s?, s:i}",
				"call_sid", e->call_sid, "outcome", e->outcome ? e->outcome :
				"unfinished", "http_status", e->link.http_status,
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
		TW_TARGET_OPTIONS,
		{ "relay", 0, NULL, 'R' }, { "first-ms", 1, NULL, 'f' },
		{ "step", 1, NULL, 's' }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	tw_target_init(&e->t);
	e->first_ms = 1000;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (tw_target_opt(&e->t, ch, optarg))
			continue;
		switch (ch) {
		case 'R': break;
		case 'f': e->first_ms = atoi(optarg); break;
		case 's': if (add_step(e, optarg) < 0) return -1; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	return tw_target_ok(&e->t) && e->first_ms >= 0 && optind == argc ? 0 : -1;
}

int emu_twilio_relay_main(int argc, char **argv)
{
	struct rl_emu e;

	memset(&e, 0, sizeof(e));
	if (parse(argc, argv, &e) < 0) {
		usage(stderr);
		return 2;
	}
	if (tw_target_split(&e.t) || !(e.replies = json_array()))
		return 2;
	e.link = (struct tw_link){ .t = &e.t, .ops = &link_ops };
	if (!(e.ctx = tw_context(0))) {
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
	tw_link_free(&e.link);
	free(e.reply.p);
	json_decref(e.replies);
	free(e.handoff);
	return 0;
}

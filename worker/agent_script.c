/*
 * agent_script.c - the booking dialog without a language model, for while
 * the LLM is down (its breaker is open, or it failed for good on a call).
 *
 * Owns: the script's steps, one per caller turn: the problem (the
 * greeting's "How can I help?" asks it; a call that falls back mid-call
 * takes the caller's last words), the postcode, the house and street, the
 * name, a read-back to confirm, then the booking. The booking goes through
 * agent_run_tools() as a create_booking call, so the checks, the reference
 * and the wait for the journal are the very ones the model's booking gets;
 * a booking it refuses sends the caller back to the postcode, and a
 * second refusal hands the call back.
 *
 * The lines are fixed English on purpose: this runs when the model is
 * not there to word anything, and a caller must be booked all the same.
 * Never: calls the model, or leaves the agent in TOOLS (the model's path
 * leaves it by asking the model again; here the next line does).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/booking/booking.h"
#include "../common/log.h"
#include "agent.h"
#include "breaker.h"

enum script_step { SC_PROBLEM, SC_POSTCODE, SC_ADDRESS, SC_NAME, SC_CONFIRM, SC_BOOKING };

struct agent_script {
	enum script_step step;
	int refusals;			/* bookings refused by the checks */
	char problem[512], postcode[16], address[256], name[128];
};

/* src, cut to fit dst (len bytes with its NUL). */
static void keep(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* text without leading blanks and trailing blanks or punctuation, into out. */
static void clean(const char *text, char *out, size_t len)
{
	while (isspace((unsigned char)*text))
		text++;
	size_t n = strlen(text);
	while (n && (isspace((unsigned char)text[n - 1]) || strchr(".,!?;:", text[n - 1])))
		n--;
	snprintf(out, len, "%.*s", (int)n, text);
}

/* Drops what people say before their name ("my name is", "it's"). */
static const char *name_of(const char *text)
{
	static const char *const lead[] = { "my name is ", "my name's ", "the name is ",
					    "this is ", "it's ", "it is ", "i'm ", "i am " };

	for (size_t i = 0; i < sizeof(lead) / sizeof(lead[0]); i++)
		if (!strncasecmp(text, lead[i], strlen(lead[i])))
			return text + strlen(lead[i]);
	return text;
}

/* 1: yes, 0: no, -1: neither (by the first word that says). */
static int yes_no(const char *text)
{
	static const char *const yes[] = { "yes", "yeah", "yep", "yup", "correct", "right",
					   "sure", "ok", "okay", "please", "go", "book", "[pressed 1]" };
	static const char *const no[] = { "no", "nope", "wrong", "not", "[pressed 2]" };
	char buf[256], *save;

	keep(buf, sizeof(buf), text);
	if (!strncmp(buf, "[pressed", 8))
		return !strcmp(buf, "[pressed 1]") ? 1 : !strcmp(buf, "[pressed 2]") ? 0 : -1;
	for (char *w = strtok_r(buf, " ,.!?", &save); w; w = strtok_r(NULL, " ,.!?", &save)) {
		for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
			if (!strcasecmp(w, yes[i]))
				return 1;
		for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
			if (!strcasecmp(w, no[i]))
				return 0;
	}
	return -1;
}

static void say(struct agent *a, const char *text)
{
	agent_say(a, text, true);
}

static void ask_postcode(struct agent *a, struct agent_script *s, const char *before)
{
	char line[700];

	snprintf(line, sizeof(line), "%sWhat's the postcode of the property?", before);
	s->step = SC_POSTCODE;
	say(a, line);
}

static void read_back(struct agent *a, struct agent_script *s)
{
	json_t *fee = json_object_get(a->vars, "callout_fee");
	char line[1400];

	snprintf(line, sizeof(line), "So that's %s, at %s, %s, about: %s. The callout fee is "
		 "%lld pounds. Shall I book that for you?", s->name, s->address, s->postcode,
		 s->problem, json_is_number(fee) ? (long long)json_number_value(fee) : 0LL);
	s->step = SC_CONFIRM;
	say(a, line);
}

/* The booking, as the model would ask for it: through agent_tools.c. */
static void book(struct agent *a, struct agent_script *s)
{
	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "customer_name", s->name, "postcode",
				 s->postcode, "address", s->address, "problem_description",
				 s->problem);
	char *text = args ? json_dumps(args, JSON_COMPACT) : NULL;
	json_t *calls = text ? json_pack("[{s:s, s:s, s:s}]", "id", "script_booking", "name",
					 "create_booking", "arguments", text) : NULL;

	json_decref(args);
	free(text);
	if (!calls) {
		agent_handoff(a, "scripted booking: out of memory");
		return;
	}
	s->step = SC_BOOKING;
	agent_enter(a, AG_TOOLS, "scripted booking");
	agent_run_tools(a, calls);
	json_decref(calls);
}

static void on_postcode(struct agent *a, struct agent_script *s, const char *heard)
{
	char only[64];
	size_t n = 0;

	/* "E5 9ES." or "e 5 9 e s": letters and digits are the postcode. */
	for (const char *p = heard; *p && n < sizeof(only) - 1; p++)
		if (isalnum((unsigned char)*p))
			only[n++] = *p;
	only[n] = '\0';
	if (!postcode_norm(only, s->postcode, sizeof(s->postcode))) {
		say(a, "Sorry, I didn't catch a postcode. Could you say it again, "
		       "for example E5 9ES?");
		return;
	}
	s->step = SC_ADDRESS;
	say(a, "Thank you. And the house number and street?");
}

void agent_script_turn(struct agent *a)
{
	struct agent_script *s = a->script;
	char heard[512];

	clean(buf_str(&a->heard), heard, sizeof(heard));
	json_array_append_new(a->history, json_pack("{s:s, s:s}", "role", "user", "content",
						    buf_str(&a->heard)));
	agent_transcript(a, "caller", buf_str(&a->heard));
	buf_reset(&a->heard);
	if (!heard[0]) {
		agent_enter(a, AG_LISTENING, "scripted: nothing heard");
		return;
	}
	switch (s->step) {
	case SC_PROBLEM:
		keep(s->problem, sizeof(s->problem), heard);
		ask_postcode(a, s, "I can book an engineer for that. ");
		break;
	case SC_POSTCODE:
		on_postcode(a, s, heard);
		break;
	case SC_ADDRESS:
		keep(s->address, sizeof(s->address), heard);
		s->step = SC_NAME;
		say(a, "And your name, please?");
		break;
	case SC_NAME:
		keep(s->name, sizeof(s->name), name_of(heard));
		read_back(a, s);
		break;
	case SC_CONFIRM:
		switch (yes_no(heard)) {
		case 1:
			book(a, s);
			break;
		case 0:
			ask_postcode(a, s, "No problem, let's go through it again. ");
			break;
		default:
			say(a, "Sorry, shall I book it? Please say yes or no.");
		}
		break;
	case SC_BOOKING:
		break;		/* the booking's answer comes first */
	}
}

void agent_script_tools_done(struct agent *a)
{
	struct agent_script *s = a->script;
	json_t *last = json_array_get(a->history, json_array_size(a->history) - 1);
	json_error_t je;
	json_t *res = json_loads(json_string_value(json_object_get(last, "content")) ?: "", 0, &je);
	const char *ref = json_string_value(json_object_get(res, "booking_ref"));
	const char *err = json_string_value(json_object_get(res, "error"));
	char line[600], why[300];

	if (json_is_true(json_object_get(res, "success")) && ref) {
		snprintf(line, sizeof(line), "That's booked. Your reference is %s. An engineer "
			 "will call you shortly. Thank you for calling, goodbye.", ref);
		log_info("agent", a->uuid, "scripted booking %s made", ref);
		agent_say_and_end(a, line, true, "scripted booking made");
	} else if (++s->refusals < 2) {
		log_warn("agent", a->uuid, "scripted booking refused: %s", err ? err : "?");
		agent_enter(a, AG_THINKING, "scripted: booking refused");
		keep(why, sizeof(why), err ? err : "that didn't go through");
		snprintf(line, sizeof(line), "Sorry, %s. ", why);
		ask_postcode(a, s, line);
	} else {
		json_decref(res);
		agent_handoff(a, "scripted booking refused twice");
		return;
	}
	json_decref(res);
}

void agent_script_start(struct agent *a)
{
	json_t *last = json_array_get(a->history, json_array_size(a->history) - 1);
	const char *role = json_string_value(json_object_get(last, "role"));
	const char *said = json_string_value(json_object_get(last, "content"));
	struct agent_script *s;

	if (a->script)
		return;
	if (!(s = calloc(1, sizeof(*s)))) {
		agent_handoff(a, "the model is down and the script has no memory");
		return;
	}
	a->script = s;
	agent_degrade(a, BRK_LLM, "scripted booking dialog");
	if (a->state == AG_CONTEXT)
		return;		/* the greeting asks for the problem */
	if (role && !strcmp(role, "user") && said) {
		clean(said, s->problem, sizeof(s->problem));
		ask_postcode(a, s, "Sorry, I'm having trouble with my system, so I'll take "
			     "your details one at a time. ");
	} else {
		say(a, "Sorry, I'm having trouble with my system, so I'll take your details "
		       "one at a time. What's the problem?");
	}
}

void agent_script_free(struct agent *a)
{
	free(a->script);
	a->script = NULL;
}

/*
 * agent_handoff.c - passing the caller to a person.
 *
 * The caller asks for a person (the model's transfer_to_human tool),
 * presses 0 (agent_keypad.c), or the agent cannot go on (a provider lost
 * for good): the agent writes why, and what it learnt, where the dialplan
 * can read it, says the [handoff] goodbye, and closes the AudioSocket
 * connection once that has played. AudioSocket() then returns and the
 * dialplan reads the file and rings the group with the reason and the
 * details ([vagent-handoff] in extensions_vagent.conf).
 *
 * The reason file: <[handoff] dir>/va_<uuid>.handoff, one line of JSON
 * ({"reason":"dtmf-0","caller_name":...}), which Asterisk's
 * JSON_DECODE() reads key by key. The directory is [call] context_dir
 * unless configured: the one Asterisk already shares with vagentd
 * (vagent:asterisk 0770), so the file is 0644 and the directory keeps
 * everyone else out; Asterisk, neither owner nor group of the file, reads
 * it through the "other" bits, as vagentd reads Asterisk's context files.
 * Not /tmp (Asterisk's unit has PrivateTmp=true), not run_dir (0755: the
 * caller's name and address would be anyone's). Written whole (rename),
 * because the dialplan may read at any moment after the connection
 * closes; not fsynced, since it lives for a minute and a crash ends the
 * call anyway. The supervisor removes it after [handoff] lifetime
 * (sup_handoff.c).
 *
 * The details: the arguments of every create_booking and
 * transfer_to_human call the model made (later ones win), and the
 * caller's own words so far, so a person learns something even when the
 * caller pressed 0 before the model wrote anything down.
 *
 * Never: waits; the goodbye's end is the dialog's usual "hang up once
 * the reply has played" (agent_say_and_end, then the call's playout).
 * Fails: a reason file that cannot be written is logged and the hand-off
 * goes on: the caller still hears the goodbye and the dialplan, finding
 * no file, ends the call as after any other goodbye.
 */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/conf.h"
#include "../common/file_replace.h"
#include "../common/log.h"
#include "agent.h"
#include "call.h"
#include "call_relay.h"
#include "http.h"

#define SAID_MAX 600	/* bytes of the caller's words in the file: the latest */

/* The reason as a short code for the file and the call record: lower-case
 * letters, digits, '_' and '-'; anything else becomes one '-'. */
static void reason_code(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = in ? in : ""; *p && n + 1 < len; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		if ((c < 0x80 && isalnum(c)) || c == '_' || c == '-')
			out[n++] = (char)c;
		else if (n && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, len, "unknown");
}

/* One tool call's arguments into the details, under the file's names. */
static void take_args(json_t *details, const char *args)
{
	static const char *const names[][2] = {
		{ "customer_name", "caller_name" }, { "postcode", "postcode" },
		{ "address", "address" }, { "problem_description", "problem" },
		{ "summary", "note" },
	};
	json_error_t je;
	json_t *j = args ? json_loads(args, 0, &je) : NULL;

	for (size_t i = 0; json_is_object(j) && i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *v = json_object_get(j, names[i][0]);
		if (json_is_string(v) && json_string_length(v))
			json_object_set(details, names[i][1], v);
	}
	json_decref(j);
}

/* What the model wrote down so far, from its tool calls in the history. */
static void take_tool_calls(json_t *details, json_t *history)
{
	size_t i, k;
	json_t *m, *tc;

	json_array_foreach(history, i, m) {
		json_array_foreach(json_object_get(m, "tool_calls"), k, tc) {
			json_t *fn = json_object_get(tc, "function");
			const char *name = json_string_value(json_object_get(fn, "name"));
			if (name && (!strcmp(name, "create_booking") ||
				     !strcmp(name, "transfer_to_human")))
				take_args(details, json_string_value(json_object_get(fn, "arguments")));
		}
	}
}

/* The caller's words so far, the latest SAID_MAX bytes, whole characters. */
static json_t *caller_said(struct agent *a)
{
	struct buf b;
	size_t i;
	json_t *e;

	buf_init(&b, 0);
	json_array_foreach(a->transcript, i, e) {
		const char *role = json_string_value(json_object_get(e, "role"));
		if (role && !strcmp(role, "caller"))
			buf_printf(&b, "%s%s", b.len ? " / " : "",
				   json_string_value(json_object_get(e, "text")));
	}
	if (a->heard.len)
		buf_printf(&b, "%s%s", b.len ? " / " : "", buf_str(&a->heard));
	const char *s = b.len ? buf_str(&b) : "";
	size_t from = b.len > SAID_MAX ? b.len - SAID_MAX : 0;
	while (from < b.len && ((unsigned char)s[from] & 0xc0) == 0x80)
		from++;
	json_t *out = json_string(s + from);
	buf_free(&b);
	return out;
}

static const char *var(struct agent *a, const char *key)
{
	const char *v = json_string_value(json_object_get(a->vars, key));
	return v ? v : "";
}

static void write_reason(struct agent *a)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "reason", a->handoff,
			      "uuid", a->uuid, "did", call_did(a->call), "cli", call_cli(a->call),
			      "company", var(a, "company_name"), "time", (json_int_t)time(NULL));
	char name[64], *text = NULL;
	int rc = -ENOMEM;

	if (j) {
		take_tool_calls(j, a->history);
		json_object_set_new(j, "caller_said", caller_said(a));
		text = json_dumps(j, JSON_COMPACT);
	}
	if (text) {
		size_t len = strlen(text);
		text[len] = '\n';	/* json_dumps left room: its NUL */
		snprintf(name, sizeof(name), "va_%s.handoff", a->uuid);
		/* 0644 whatever the umask: Asterisk reads it as "other". */
		mode_t old = umask(022);
		rc = file_replace(conf_handoff_dir(a->conf), name, text, len + 1, 0644, false);
		umask(old);
		relay_handoff(a->call, text, len);	/* ConversationRelay: the end carries it */
	}
	if (rc < 0)
		log_error("agent", a->uuid, "hand-off: cannot write %s/va_%s.handoff: %s",
			  conf_handoff_dir(a->conf), a->uuid, strerror(-rc));
	free(text);
	json_decref(j);
}

/* Nothing more is asked or typed: the model, its retry, the context. */
static void stop_work(struct agent *a)
{
	if (a->llm) {
		a->llm_ops->cancel(a->llm);
		a->llm = NULL;
	}
	if (a->retry_ev)
		event_del(a->retry_ev);
	if (a->ctx_req) {	/* its answer would greet the caller */
		http_abort(a->ctx_req);
		a->ctx_req = NULL;
		free(a->ctx_fetch);
		a->ctx_fetch = NULL;
	}
	a->nkeys = 0;
}

static void hand_off(struct agent *a, const char *reason, bool let_reply_finish)
{
	char code[sizeof(a->handoff)];

	reason_code(reason, code, sizeof(code));
	if (a->handoff[0] || a->state == AG_ENDING) {
		log_info("agent", a->uuid, "hand-off (%s) not started: the call is already ending",
			 code);
		return;
	}
	memcpy(a->handoff, code, sizeof(code));
	stop_work(a);
	write_reason(a);
	log_info("agent", a->uuid, "handing the caller to a person (%s) at outbound frame %llu",
		 a->handoff, (unsigned long long)call_frames_out(a->call));
	bool keep = let_reply_finish && a->reply_ctx && !a->reply_is_filler;
	agent_say_and_end(a, keep ? NULL : a->conf->handoff_goodbye, true, "hand-off");
	buf_reset(&a->heard);
}

void agent_handoff(struct agent *a, const char *reason)
{
	hand_off(a, reason, false);
}

void agent_handoff_tool(struct agent *a, json_t *args)
{
	const char *why = json_string_value(json_object_get(args, "reason"));

	hand_off(a, why && *why ? why : "cannot_help", true);
}

json_t *agent_handoff_tool_def(void)
{
	return json_pack(
		"{s:s, s:{s:s, s:s, s:{s:s, s:{s:{s:s, s:[s, s], s:s}, s:{s:s, s:s}, "
		"s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}, s:[s]}}}",
		"type", "function", "function", "name", "transfer_to_human", "description",
		"Put the caller through to a person at the company, when they ask for one or "
		"you cannot help them. A goodbye line is said for you: do not say goodbye. "
		"Pass on what you have learnt so far.",
		"parameters", "type", "object", "properties",
		"reason", "type", "string", "enum", "caller_asked", "cannot_help", "description",
		"caller_asked: they want a person; cannot_help: you cannot do what they need",
		"summary", "type", "string", "description", "One line for the person taking the call",
		"customer_name", "type", "string", "description", "The caller's name, if known",
		"postcode", "type", "string", "description", "Their postcode, if known",
		"address", "type", "string", "description", "House number and street, if known",
		"problem_description", "type", "string", "description", "The problem, if known",
		"required", "reason");
}

/*
 * twilio_relay_wire.c - ConversationRelay messages. See twilio_relay_wire.h.
 */
#include "twilio_relay_wire.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool sid_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= TR_SID_LEN)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s))
			return false;
	return true;
}

/* customParameters[key], else the fallback field, cut to the buffer. */
static void param(json_t *m, const char *key, const char *fallback, char *out)
{
	const char *v = str(json_object_get(m, "customParameters"), key);

	if (!v || !*v)
		v = str(m, fallback);
	snprintf(out, TR_PARAM_LEN, "%s", v ? v : "");
}

static int fail(struct tr_msg *m, const char **why, const char *what)
{
	*why = what;
	tr_msg_free(m);
	return -EINVAL;
}

static int parse_type(struct tr_msg *m, json_t *j, const char *type, const char **why)
{
	if (!strcmp(type, "setup")) {
		m->type = TR_SETUP;
		if (!sid_ok(str(j, "callSid")))
			return fail(m, why, "setup without a valid callSid");
		snprintf(m->call_sid, sizeof(m->call_sid), "%s", str(j, "callSid"));
		param(j, "did", "to", m->did);
		param(j, "caller", "from", m->caller);
	} else if (!strcmp(type, "prompt")) {
		m->type = TR_PROMPT;
		if (!(m->text = str(j, "voicePrompt")))
			return fail(m, why, "prompt without voicePrompt");
		m->last = json_is_true(json_object_get(j, "last"));
	} else if (!strcmp(type, "interrupt")) {
		m->type = TR_INTERRUPT;
		m->text = str(j, "utteranceUntilInterrupt");
		if (!m->text)
			m->text = "";	/* nothing heard */
		/* A fractional value has been seen: a number, not only an int. */
		m->heard_ms = json_number_value(json_object_get(j, "durationUntilInterruptMs"));
	} else if (!strcmp(type, "dtmf")) {
		const char *d = str(j, "digit");
		m->type = TR_DTMF;
		if (!d || strlen(d) != 1 || !strchr("0123456789*#ABCD", d[0]))
			return fail(m, why, "dtmf without a valid digit");
		m->digit = d[0];
	} else if (!strcmp(type, "error")) {
		m->type = TR_ERROR;
		m->text = str(j, "description");
		if (!m->text)
			m->text = "";
	}
	return 0;
}

int tr_parse(const char *json, size_t len, struct tr_msg *m, const char **why)
{
	json_error_t je;
	json_t *j = json_loadb(json, len, 0, &je);
	const char *type;

	memset(m, 0, sizeof(*m));
	if (!json_is_object(j)) {
		json_decref(j);
		*why = "not a JSON object";
		return -EINVAL;
	}
	m->json_ = j;
	if (!(type = str(j, "type")))
		return fail(m, why, "no type");
	return parse_type(m, j, type, why);
}

void tr_msg_free(struct tr_msg *m)
{
	json_decref(m->json_);
	m->json_ = NULL;
	m->text = NULL;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

char *tr_text(const char *token, size_t len, bool last)
{
	return dump(json_pack("{s:s, s:s%, s:b}", "type", "text", "token", token, len, "last",
			      last));
}

char *tr_end(const char *handoff_data)
{
	return dump(json_pack("{s:s, s:s}", "type", "end", "handoffData", handoff_data));
}

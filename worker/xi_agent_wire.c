/*
 * xi_agent_wire.c - ElevenLabs Conversational AI messages. See
 * xi_agent_wire.h. A server event's fields sit in an object named after
 * the event ("audio" -> "audio_event"), except the tool call's, which is
 * "client_tool_call" itself and the user transcript's
 * "user_transcription_event".
 */
#include "xi_agent_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base64.h"

static const struct {
	const char *type, *payload;
	enum xa_kind kind;
} kinds[] = {
	{ "conversation_initiation_metadata", "conversation_initiation_metadata_event",
	  XA_METADATA },
	{ "audio", "audio_event", XA_AUDIO },
	{ "interruption", "interruption_event", XA_INTERRUPTION },
	{ "ping", "ping_event", XA_PING },
	{ "agent_response", "agent_response_event", XA_AGENT_RESPONSE },
	{ "agent_response_correction", "agent_response_correction_event", XA_CORRECTION },
	{ "user_transcript", "user_transcription_event", XA_USER_TRANSCRIPT },
	{ "client_tool_call", "client_tool_call", XA_TOOL_CALL },
};

int xa_fmt_parse(const char *s, struct xa_fmt *f)
{
	char *end;
	long rate;

	if (!s)
		return -EINVAL;
	if (!strcmp(s, "ulaw_8000")) {
		*f = (struct xa_fmt){ true, 8000 };
		return 0;
	}
	if (strncmp(s, "pcm_", 4))
		return -EINVAL;
	rate = strtol(s + 4, &end, 10);
	if (*end || rate < 8000 || rate > 48000)
		return -EINVAL;
	*f = (struct xa_fmt){ false, (int)rate };
	return 0;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int64_t event_id(json_t *ev)
{
	json_t *v = json_object_get(ev, "event_id");

	return json_is_integer(v) && json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
}

/* The fields of a known kind; -EINVAL when one it needs is missing. */
static int fields(struct xa_msg *m, json_t *ev)
{
	m->event_id = event_id(ev);
	switch (m->kind) {
	case XA_METADATA:
		m->conversation_id = str(ev, "conversation_id");
		/* Absent: the agent's default, pcm_16000 both ways. */
		m->in = m->out = (struct xa_fmt){ false, 16000 };
		if (str(ev, "user_input_audio_format") &&
		    xa_fmt_parse(str(ev, "user_input_audio_format"), &m->in) < 0)
			return -EINVAL;
		if (str(ev, "agent_output_audio_format") &&
		    xa_fmt_parse(str(ev, "agent_output_audio_format"), &m->out) < 0)
			return -EINVAL;
		return 0;
	case XA_AUDIO:
		m->audio = str(ev, "audio_base_64");
		m->audio_len = m->audio ? strlen(m->audio) : 0;
		return m->audio && m->event_id >= 0 ? 0 : -EINVAL;
	case XA_INTERRUPTION:
	case XA_PING:
		return m->event_id >= 0 ? 0 : -EINVAL;
	case XA_AGENT_RESPONSE:
		m->text = str(ev, "agent_response");
		return m->text ? 0 : -EINVAL;
	case XA_CORRECTION:
		m->text = str(ev, "corrected_agent_response");
		m->original = str(ev, "original_agent_response");
		return m->text ? 0 : -EINVAL;
	case XA_USER_TRANSCRIPT:
		m->text = str(ev, "user_transcript");
		return m->text ? 0 : -EINVAL;
	case XA_TOOL_CALL:
		m->tool_name = str(ev, "tool_name");
		m->tool_call_id = str(ev, "tool_call_id");
		m->params = json_object_get(ev, "parameters");
		return m->tool_name && m->tool_call_id ? 0 : -EINVAL;
	default:
		return 0;
	}
}

int xa_msg_parse(struct xa_msg *m, const char *data, size_t len)
{
	json_error_t je;
	const char *type;

	memset(m, 0, sizeof(*m));
	m->event_id = -1;
	m->root = json_loadb(data, len, 0, &je);
	if (!json_is_object(m->root) || !(type = str(m->root, "type"))) {
		xa_msg_clear(m);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(type, kinds[i].type))
			continue;
		json_t *ev = json_object_get(m->root, kinds[i].payload);
		m->kind = kinds[i].kind;
		if (!json_is_object(ev) || fields(m, ev) < 0) {
			xa_msg_clear(m);
			return -EINVAL;
		}
		return 0;
	}
	m->kind = XA_IGNORED;
	return 0;
}

void xa_msg_clear(struct xa_msg *m)
{
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
	m->event_id = -1;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

/* A value a dynamic variable can hold: null becomes "", an object or array is left out. */
static json_t *scalar(json_t *v)
{
	if (!v || json_is_null(v))
		return json_string("");
	return json_is_object(v) || json_is_array(v) ? NULL : json_incref(v);
}

json_t *xa_dynamic_vars(json_t *ctx, json_t *call_vars)
{
	static const char *const keys[] = { "company_name", "trade_type", "trade_label",
		"callout_fee", "area", "is_repeat", "greeting", "time_greeting", "caller_id",
		"did_number" };
	json_t *dv = json_object(), *v;
	const char *k;

	if (!dv)
		return NULL;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_set_new(dv, keys[i], scalar(json_object_get(ctx, keys[i]))) < 0)
			json_object_set_new(dv, keys[i], json_string(""));
	if (!json_is_string(json_object_get(ctx, "greeting"))) {
		char g[96];
		snprintf(g, sizeof(g), "Hello, %s. How can I help you?",
			 str(ctx, "time_greeting") ? str(ctx, "time_greeting") : "hello");
		json_object_set_new(dv, "greeting", json_string(g));
	}
	/* The merge in ctx decided who wins a shared name: its value, not the call's. */
	json_object_foreach(call_vars, k, v)
		if (!json_object_get(dv, k))
			json_object_set_new(dv, k, scalar(json_object_get(ctx, k) ?: v));
	return dv;
}

char *xa_init_msg(json_t *dynamic_variables)
{
	return dump(json_pack("{s:s, s:O}", "type", "conversation_initiation_client_data",
			      "dynamic_variables", dynamic_variables));
}

/* Written by hand: jansson would copy the base64 text twice more. */
char *xa_audio_msg(const uint8_t *bytes, size_t n)
{
	static const char head[] = "{\"user_audio_chunk\":\"", tail[] = "\"}";
	size_t b64 = (n + 2) / 3 * 4;
	char *s = malloc(sizeof(head) - 1 + b64 + sizeof(tail));

	if (!s)
		return NULL;
	memcpy(s, head, sizeof(head) - 1);
	size_t k = base64_encode(bytes, n, s + sizeof(head) - 1);
	memcpy(s + sizeof(head) - 1 + k, tail, sizeof(tail));
	return s;
}

char *xa_pong_msg(int64_t event_id)
{
	return dump(json_pack("{s:s, s:I}", "type", "pong", "event_id", (json_int_t)event_id));
}

char *xa_tool_result_msg(const char *tool_call_id, const char *result, bool is_error)
{
	return dump(json_pack("{s:s, s:s, s:s, s:b}", "type", "client_tool_result",
			      "tool_call_id", tool_call_id, "result", result, "is_error",
			      is_error));
}

char *xa_signed_url(const char *body, size_t len)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);
	const char *u = str(j, "signed_url");
	char *out = u && *u ? strdup(u) : NULL;

	json_decref(j);
	return out;
}

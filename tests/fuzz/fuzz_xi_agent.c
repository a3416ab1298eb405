/*
 * fuzz_xi_agent.c - what the ElevenLabs agent bridge does with one message
 * from the peer: worker/xi_agent_wire.c, the real code.
 *
 * First byte even: the rest is one server message on the conversation's
 * websocket. A failed parse holds nothing; a known kind has the fields
 * eng_elevenlabs.c reads without checking (audio with its length and an
 * id, a ping's id, a response's text, a tool call's name and id); a
 * format is pcm at 8-48 kHz or u-law at 8 kHz. Audio is decoded into the
 * room the bridge reserves, never past it, and what we would send back
 * parses again to the same thing: the same bytes in a user_audio_chunk,
 * a pong with the ping's id, a tool result with the call's id.
 *
 * First byte odd: the rest is a get-signed-url answer; the URL taken is
 * the answer's non-empty signed_url or none.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/base64.h"
#include "../../worker/xi_agent_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *reparse(char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;

	if (!json_is_object(j))
		abort();
	free(text);
	return j;
}

static void audio(const struct xa_msg *m)
{
	size_t room = m->audio_len / 4 * 3 + 3;	/* what the bridge reserves */
	uint8_t *raw = malloc(room), *back = malloc(room);

	if (!raw || !back)
		abort();
	long n = base64_decode(m->audio, m->audio_len, raw);
	if (n > (long)room)
		abort();
	if (n > 0) {
		json_t *j = reparse(xa_audio_msg(raw, (size_t)n));
		json_t *chunk = json_object_get(j, "user_audio_chunk");
		const char *b64 = json_string_value(chunk);
		if (!b64 || json_string_length(chunk) != ((size_t)n + 2) / 3 * 4 ||
		    base64_decode(b64, json_string_length(chunk), back) != n ||
		    memcmp(raw, back, (size_t)n))
			abort();
		json_decref(j);
	}
	free(raw);
	free(back);
}

static void fmt_ok(struct xa_fmt f)
{
	if (f.rate < 8000 || f.rate > 48000 || (f.ulaw && f.rate != 8000))
		abort();
}

static void answers(const struct xa_msg *m)
{
	json_t *j;

	switch (m->kind) {
	case XA_PING:
		j = reparse(xa_pong_msg(m->event_id));
		if (json_integer_value(json_object_get(j, "event_id")) != m->event_id ||
		    strcmp(json_string_value(json_object_get(j, "type")), "pong"))
			abort();
		json_decref(j);
		break;
	case XA_TOOL_CALL:
		j = reparse(xa_tool_result_msg(m->tool_call_id, m->tool_name, true));
		if (strcmp(json_string_value(json_object_get(j, "tool_call_id")), m->tool_call_id))
			abort();
		json_decref(j);
		break;
	default:
		break;
	}
}

static void message(const char *data, size_t size)
{
	struct xa_msg m;

	if (xa_msg_parse(&m, data, size) < 0) {
		if (m.root || m.kind || m.event_id != -1 || m.audio || m.text)
			abort();
		return;
	}
	if (!m.root)
		abort();
	switch (m.kind) {
	case XA_METADATA:
		fmt_ok(m.in);
		fmt_ok(m.out);
		break;
	case XA_AUDIO:
		if (!m.audio || strlen(m.audio) != m.audio_len || m.event_id < 0)
			abort();
		audio(&m);
		break;
	case XA_INTERRUPTION:
	case XA_PING:
		if (m.event_id < 0)
			abort();
		break;
	case XA_AGENT_RESPONSE:
	case XA_CORRECTION:
	case XA_USER_TRANSCRIPT:
		if (!m.text)
			abort();
		break;
	case XA_TOOL_CALL:
		if (!m.tool_name || !m.tool_call_id)
			abort();
		break;
	default:
		break;
	}
	answers(&m);
	xa_msg_clear(&m);
}

static void signed_url(const char *data, size_t size)
{
	char *u = xa_signed_url(data, size);
	json_t *j = json_loadb(data, size, 0, NULL);
	const char *want = json_string_value(json_object_get(j, "signed_url"));

	if (want && *want ? !u || strcmp(u, want) : u != NULL)
		abort();
	free(u);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		signed_url((const char *)data + 1, size - 1);
	else
		message((const char *)data + 1, size - 1);
	return 0;
}

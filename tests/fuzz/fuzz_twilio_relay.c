/*
 * fuzz_twilio_relay.c - what a ConversationRelay call does with one
 * message from the peer: worker/twilio_relay_wire.c, the real code.
 *
 * The input is one text message. A failure says why and holds nothing;
 * a setup's callSid is letters and digits and fits, its parameters end
 * within their buffers; a prompt has its words, an interrupt and an error
 * a text (maybe empty), a digit is a DTMF key. The words the caller said
 * go back as our text token and our end's handoff data and parse again
 * to the same words.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/twilio_relay_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(char *msg, const char *key, const char *want)
{
	json_t *j = msg ? json_loads(msg, 0, NULL) : NULL;
	const char *got = json_string_value(json_object_get(j, key));

	if (!got || strcmp(got, want))
		abort();
	json_decref(j);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tr_msg m;
	const char *why = NULL;

	if (tr_parse((const char *)data, size, &m, &why) < 0) {
		if (!why || m.json_ || m.text)
			abort();
		return 0;
	}
	switch (m.type) {
	case TR_SETUP: {
		size_t n = strnlen(m.call_sid, TR_SID_LEN);
		if (!n || n == TR_SID_LEN || strnlen(m.did, TR_PARAM_LEN) == TR_PARAM_LEN ||
		    strnlen(m.caller, TR_PARAM_LEN) == TR_PARAM_LEN)
			abort();
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)m.call_sid[i]))
				abort();
		break;
	}
	case TR_PROMPT:
	case TR_INTERRUPT:
	case TR_ERROR:
		if (!m.text)
			abort();
		same(tr_text(m.text, strlen(m.text), m.last), "token", m.text);
		same(tr_end(m.text), "handoffData", m.text);
		break;
	case TR_DTMF:
		if (!m.digit || !strchr("0123456789*#ABCD", m.digit))
			abort();
		break;
	default:
		break;
	}
	tr_msg_free(&m);
	if (m.json_ || m.text)
		abort();
	return 0;
}

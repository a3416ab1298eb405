/*
 * test_xi_agent_wire.c - unit tests for worker/xi_agent_wire.h and
 * worker/xi_agent_audio.h (the ElevenLabs bridge's messages and audio).
 *
 * Protects: each server event read from its own payload object, with the
 * fields the bridge acts on (an event id of 0 is an id; a negative or
 * missing one on audio, ping or interruption refuses the message); a
 * type we do not act on is ignored, not an error; formats pcm_<rate> and
 * ulaw_8000 only; the client messages' exact shapes (audio without a
 * type, pong with the ping's id, the tool result's four keys); the
 * conversions: u-law both ways, 8 <-> 16 kHz keeping the level, a
 * sample split across two chunks.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/base64.h"
#include "../../common/buf.h"
#include "../../worker/xi_agent_audio.h"
#include "../../worker/xi_agent_wire.h"

static int parse(struct xa_msg *m, const char *json)
{
	return xa_msg_parse(m, json, strlen(json));
}

static void server_events_are_read_from_their_payload(void **state)
{
	struct xa_msg m;
	(void)state;

	assert_int_equal(parse(&m, "{\"type\":\"conversation_initiation_metadata\","
			 "\"conversation_initiation_metadata_event\":{\"conversation_id\":\"c1\","
			 "\"agent_output_audio_format\":\"pcm_16000\","
			 "\"user_input_audio_format\":\"ulaw_8000\"}}"), 0);
	assert_int_equal(m.kind, XA_METADATA);
	assert_string_equal(m.conversation_id, "c1");
	assert_true(m.in.ulaw && m.in.rate == 8000);
	assert_true(!m.out.ulaw && m.out.rate == 16000);
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"audio\",\"audio_event\":{\"audio_base_64\":"
			 "\"AAE=\",\"event_id\":7}}"), 0);
	assert_int_equal(m.kind, XA_AUDIO);
	assert_int_equal(m.event_id, 7);
	assert_int_equal(m.audio_len, 4);
	assert_memory_equal(m.audio, "AAE=", 4);
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"interruption\",\"interruption_event\":"
			 "{\"event_id\":0,\"reason\":\"user_speech\"}}"), 0);
	assert_int_equal(m.kind, XA_INTERRUPTION);
	assert_int_equal(m.event_id, 0);
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"ping\",\"ping_event\":{\"event_id\":42,"
			 "\"ping_ms\":null}}"), 0);
	assert_int_equal(m.kind, XA_PING);
	assert_int_equal(m.event_id, 42);
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"user_transcript\",\"user_transcription_event\":"
			 "{\"user_transcript\":\"a leak\"}}"), 0);
	assert_int_equal(m.kind, XA_USER_TRANSCRIPT);
	assert_string_equal(m.text, "a leak");
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"agent_response\",\"agent_response_event\":"
			 "{\"agent_response\":\"Hello\"}}"), 0);
	assert_int_equal(m.kind, XA_AGENT_RESPONSE);
	assert_string_equal(m.text, "Hello");
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"agent_response_correction\","
			 "\"agent_response_correction_event\":{\"original_agent_response\":"
			 "\"Hello there\",\"corrected_agent_response\":\"Hello\"}}"), 0);
	assert_int_equal(m.kind, XA_CORRECTION);
	assert_string_equal(m.original, "Hello there");
	assert_string_equal(m.text, "Hello");
	xa_msg_clear(&m);

	assert_int_equal(parse(&m, "{\"type\":\"client_tool_call\",\"client_tool_call\":"
			 "{\"tool_name\":\"createBooking\",\"tool_call_id\":\"t1\","
			 "\"parameters\":{\"postcode\":\"E5 9ES\"}}}"), 0);
	assert_int_equal(m.kind, XA_TOOL_CALL);
	assert_string_equal(m.tool_name, "createBooking");
	assert_string_equal(m.tool_call_id, "t1");
	assert_string_equal(json_string_value(json_object_get(m.params, "postcode")), "E5 9ES");
	xa_msg_clear(&m);
}

static void incomplete_events_are_refused_unknown_ones_ignored(void **state)
{
	struct xa_msg m;
	(void)state;

	assert_int_equal(parse(&m, "{\"type\":\"vad_score\",\"vad_score_event\":"
			 "{\"vad_score\":0.9}}"), 0);
	assert_int_equal(m.kind, XA_IGNORED);
	xa_msg_clear(&m);
	assert_int_equal(parse(&m, "{\"type\":\"audio\",\"audio_event\":{\"audio_base_64\":"
			 "\"AAE=\"}}"), -EINVAL);
	assert_int_equal(parse(&m, "{\"type\":\"audio\",\"audio_event\":{\"audio_base_64\":"
			 "\"AAE=\",\"event_id\":-1}}"), -EINVAL);
	assert_int_equal(parse(&m, "{\"type\":\"ping\",\"ping_event\":{\"event_id\":\"3\"}}"),
			 -EINVAL);
	assert_int_equal(parse(&m, "{\"type\":\"ping\"}"), -EINVAL);
	assert_int_equal(parse(&m, "{\"type\":\"client_tool_call\",\"client_tool_call\":"
			 "{\"tool_name\":\"x\"}}"), -EINVAL);
	assert_int_equal(parse(&m, "{\"type\":\"conversation_initiation_metadata\","
			 "\"conversation_initiation_metadata_event\":{"
			 "\"agent_output_audio_format\":\"mp3_44100\"}}"), -EINVAL);
	assert_int_equal(parse(&m, "{\"user_audio_chunk\":\"AA==\"}"), -EINVAL);
	assert_int_equal(parse(&m, "not json"), -EINVAL);
	assert_null(m.root);
}

static void formats(void **state)
{
	struct xa_fmt f;
	(void)state;

	assert_int_equal(xa_fmt_parse("pcm_22050", &f), 0);
	assert_true(!f.ulaw && f.rate == 22050);
	assert_int_equal(xa_fmt_parse("ulaw_8000", &f), 0);
	assert_true(f.ulaw && f.rate == 8000);
	assert_int_equal(xa_fmt_parse("ulaw_16000", &f), -EINVAL);
	assert_int_equal(xa_fmt_parse("pcm_16000x", &f), -EINVAL);
	assert_int_equal(xa_fmt_parse("pcm_", &f), -EINVAL);
	assert_int_equal(xa_fmt_parse(NULL, &f), -EINVAL);
}

static void client_messages_have_the_exact_shapes(void **state)
{
	const uint8_t pcm[] = { 0, 1, 2, 3, 4 };
	json_t *dv = json_pack("{s:s, s:i, s:b}", "company_name", "Acme", "callout_fee", 48,
			       "is_repeat", 0);
	char *s;
	(void)state;

	s = xa_audio_msg(pcm, sizeof(pcm));
	assert_string_equal(s, "{\"user_audio_chunk\":\"AAECAwQ=\"}");
	free(s);
	s = xa_pong_msg(42);
	json_t *j = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "pong");
	assert_int_equal(json_integer_value(json_object_get(j, "event_id")), 42);
	assert_int_equal(json_object_size(j), 2);
	json_decref(j);
	free(s);
	s = xa_tool_result_msg("t1", "{\"success\":true}", false);
	j = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "client_tool_result");
	assert_string_equal(json_string_value(json_object_get(j, "tool_call_id")), "t1");
	assert_string_equal(json_string_value(json_object_get(j, "result")), "{\"success\":true}");
	assert_true(json_is_false(json_object_get(j, "is_error")));
	json_decref(j);
	free(s);
	s = xa_init_msg(dv);
	j = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
			    "conversation_initiation_client_data");
	assert_true(json_equal(json_object_get(j, "dynamic_variables"), dv));
	assert_null(json_object_get(j, "conversation_config_override"));	/* 5.7 item 1 */
	json_decref(j);
	json_decref(dv);
	free(s);
	const char *ans = "{\"signed_url\":\"wss://h/v1/convai/conversation?agent_id=a&"
			  "conversation_signature=s\"}";
	s = xa_signed_url(ans, strlen(ans));
	assert_non_null(s);
	assert_string_equal(s, "wss://h/v1/convai/conversation?agent_id=a&conversation_signature=s");
	free(s);
	assert_null(xa_signed_url("{\"signed_url\":\"\"}", 17));
	assert_null(xa_signed_url("{}", 2));
}

/* ctx as agent_ctx.c merges it: the call's variables under did_context's fields. */
static void dynamic_variables_carry_the_calls_own_under_the_context(void **state)
{
	json_t *call = json_pack("{s:s, s:s, s:s, s:s}", "customer_name", "Ann",
				 "company_name", "Not Acme", "area", "Hackney", "job", "J-1");
	json_t *ctx = json_pack("{s:s, s:i, s:n, s:b, s:s, s:o}", "company_name", "Acme",
				"callout_fee", 48, "area", "is_repeat", 0, "time_greeting",
				"good morning", "job", json_pack("{s:i}", "odd", 1));
	json_t *dv;
	(void)state;

	json_object_update_missing(ctx, call);
	dv = xa_dynamic_vars(ctx, call);
	assert_non_null(dv);
	assert_string_equal(json_string_value(json_object_get(dv, "customer_name")), "Ann");
	assert_string_equal(json_string_value(json_object_get(dv, "company_name")), "Acme");
	assert_int_equal(json_integer_value(json_object_get(dv, "callout_fee")), 48);
	/* did_context said null: it stays did_context's, sent as "" (never null). */
	assert_string_equal(json_string_value(json_object_get(dv, "area")), "");
	/* An object is no dynamic variable: left out rather than sent. */
	assert_null(json_object_get(dv, "job"));
	assert_true(json_is_false(json_object_get(dv, "is_repeat")));
	assert_string_equal(json_string_value(json_object_get(dv, "trade_type")), "");
	assert_string_equal(json_string_value(json_object_get(dv, "greeting")),
			    "Hello, good morning. How can I help you?");
	assert_int_equal(json_object_size(dv), 11);
	json_decref(dv);
	dv = xa_dynamic_vars(ctx, NULL);	/* no variables of its own: the fixed ten */
	assert_int_equal(json_object_size(dv), 10);
	json_decref(dv);
	json_decref(ctx);
	json_decref(call);
}

static void ulaw_round_trips_within_its_step(void **state)
{
	(void)state;
	assert_int_equal(xa_ulaw_encode(0), 0xff);
	assert_int_equal(xa_ulaw_decode(0xff), 0);
	assert_int_equal(xa_ulaw_decode(0x00), -32124);
	assert_int_equal(xa_ulaw_decode(0x80), 32124);
	for (int v = -32000; v <= 32000; v += 97) {
		int back = xa_ulaw_decode(xa_ulaw_encode((int16_t)v));
		int err = abs(back - v), step = abs(v) / 16 + 8;
		assert_true(err <= step);
	}
}

/* n samples of level v, little-endian. */
static void flat(uint8_t *p, size_t n, int16_t v)
{
	for (size_t i = 0; i < n; i++) {
		p[2 * i] = (uint8_t)(v & 0xff);
		p[2 * i + 1] = (uint8_t)((uint16_t)v >> 8);
	}
}

static int16_t at(const struct buf *b, size_t i)
{
	return (int16_t)(b->data[2 * i] | b->data[2 * i + 1] << 8);
}

static void resampling_keeps_the_level_and_the_length(void **state)
{
	struct xa_conv *up, *down;
	struct buf b16, b8;
	uint8_t in[1600 * 2];
	(void)state;

	buf_init(&b16, 0);
	buf_init(&b8, 0);
	flat(in, 1600, 4000);
	assert_int_equal(xa_conv_new(&up, (struct xa_fmt){ false, 8000 },
				     (struct xa_fmt){ false, 16000 }), 0);
	assert_int_equal(xa_conv_new(&down, (struct xa_fmt){ false, 16000 },
				     (struct xa_fmt){ false, 8000 }), 0);
	/* 200 ms in two chunks, the second starting with half a sample. */
	assert_int_equal(xa_conv_run(up, in, 1601, &b16), 0);
	assert_int_equal(xa_conv_run(up, in + 1601, sizeof(in) - 1601, &b16), 0);
	size_t n16 = b16.len / 2;
	/* The filter holds a few ms back until more comes: streaming, not lost. */
	assert_true(n16 >= 3100 && n16 <= 3200);
	assert_true(abs(at(&b16, n16 / 2) - 4000) <= 20);
	assert_int_equal(xa_conv_run(down, b16.data, b16.len, &b8), 0);
	size_t n8 = b8.len / 2;
	assert_true(n8 >= 1500 && n8 <= 1600);
	for (size_t i = 100; i < n8 - 100; i++)
		assert_true(abs(at(&b8, i) - 4000) <= 20);
	xa_conv_free(up);
	xa_conv_free(down);
	buf_free(&b16);
	buf_free(&b8);
}

static void ulaw_8000_needs_no_resampler(void **state)
{
	struct xa_conv *c;
	struct buf b;
	uint8_t u[160];
	(void)state;

	buf_init(&b, 0);
	memset(u, xa_ulaw_encode(-1000), sizeof(u));
	assert_int_equal(xa_conv_new(&c, (struct xa_fmt){ true, 8000 },
				     (struct xa_fmt){ false, 8000 }), 0);
	assert_int_equal(xa_conv_run(c, u, sizeof(u), &b), 0);
	assert_int_equal(b.len, 320);	/* one sample out for each byte in, from the first */
	assert_int_equal(at(&b, 0), xa_ulaw_decode(u[0]));
	xa_conv_free(c);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_events_are_read_from_their_payload),
		cmocka_unit_test(incomplete_events_are_refused_unknown_ones_ignored),
		cmocka_unit_test(formats),
		cmocka_unit_test(client_messages_have_the_exact_shapes),
		cmocka_unit_test(dynamic_variables_carry_the_calls_own_under_the_context),
		cmocka_unit_test(ulaw_round_trips_within_its_step),
		cmocka_unit_test(resampling_keeps_the_level_and_the_length),
		cmocka_unit_test(ulaw_8000_needs_no_resampler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

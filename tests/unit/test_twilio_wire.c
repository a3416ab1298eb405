/*
 * test_twilio_wire.c - unit tests for worker/twilio_ms_wire.h (Twilio Media
 * Streams messages) and common/ulaw.h.
 *
 * Protects: issue 12 item 1. Each event Twilio sends (protocols.md 6.2) is
 * read as documented: start's callSid, streamSid, customParameters did and
 * caller and media format; media's payload decoded; dtmf's digit; mark's
 * name; stop. A sid that is not letters and digits, a payload larger than
 * the buffer, bad base64 and non-JSON are refused, never trusted; another
 * track's media is ignored. What we send (6.3) is valid JSON of the right
 * shape, and a media payload is bare mu-law that round-trips. The mu-law
 * table moved to common/ keeps its values.
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
#include <jansson.h>

#include "../../common/base64.h"
#include "../../common/ulaw.h"
#include "../../worker/twilio_ms_wire.h"

static int parse(const char *json, struct tw_msg *m, uint8_t *audio, size_t cap)
{
	const char *why = NULL;
	int rc = tw_parse(json, strlen(json), m, audio, cap, &why);

	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static void start_gives_the_call_and_its_parameters(void **state)
{
	struct tw_msg m;
	(void)state;

	assert_int_equal(parse("{\"event\":\"start\",\"sequenceNumber\":\"1\",\"streamSid\":\"MZ18ad\","
			       "\"start\":{\"accountSid\":\"AC1\",\"streamSid\":\"MZ18ad\","
			       "\"callSid\":\"CA42\",\"tracks\":[\"inbound\"],\"customParameters\":"
			       "{\"did\":\"442039962952\",\"caller\":\"+447700900123\"},"
			       "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,"
			       "\"channels\":1}}}", &m, NULL, 0), 0);
	assert_int_equal(m.ev, TW_START);
	assert_string_equal(m.stream_sid, "MZ18ad");
	assert_string_equal(m.call_sid, "CA42");
	assert_string_equal(m.did, "442039962952");
	assert_string_equal(m.caller, "+447700900123");
	assert_string_equal(m.encoding, "audio/x-mulaw");
	assert_int_equal(m.rate, 8000);
	assert_int_equal(m.channels, 1);
	assert_null(m.vars);

	/* No parameters: empty, not absent. */
	assert_int_equal(parse("{\"event\":\"start\",\"streamSid\":\"MZ1\",\"start\":{"
			       "\"callSid\":\"CA1\",\"streamSid\":\"MZ1\"}}", &m, NULL, 0), 0);
	assert_string_equal(m.did, "");
	assert_string_equal(m.caller, "");
	assert_int_equal(parse("{\"event\":\"start\",\"streamSid\":\"MZ1\",\"start\":{}}", &m,
			       NULL, 0), -EINVAL);
}

/* An outbound call's variables: the other customParameters, if they look like ones. */
static void start_hands_on_the_calls_variables(void **state)
{
	char json[4096], big[1100];
	struct tw_msg m;
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"event\":\"start\",\"streamSid\":\"MZ1\",\"start\":{"
		 "\"callSid\":\"CA1\",\"streamSid\":\"MZ1\",\"customParameters\":{\"did\":\"1\","
		 "\"caller\":\"2\",\"customer_name\":\"Ann & Bob\",\"job ref\":\"x\","
		 "\"n\":3,\"long\":\"%s\"}}}", big);
	assert_int_equal(parse(json, &m, NULL, 0), 0);
	assert_non_null(m.vars);
	assert_int_equal(json_object_size(m.vars), 1);
	assert_string_equal(json_string_value(json_object_get(m.vars, "customer_name")),
			    "Ann & Bob");
	json_decref(m.vars);
}

static void media_is_decoded_and_bounded(void **state)
{
	uint8_t audio[160], raw[160];
	char b64[256], json[512];
	struct tw_msg m;
	(void)state;

	for (int i = 0; i < 160; i++)
		raw[i] = (uint8_t)(i * 7);
	base64_encode(raw, 160, b64);
	snprintf(json, sizeof(json), "{\"event\":\"media\",\"sequenceNumber\":\"4\",\"streamSid\":"
		 "\"MZ1\",\"media\":{\"track\":\"inbound\",\"chunk\":\"2\",\"timestamp\":\"5\","
		 "\"payload\":\"%s\"}}", b64);
	assert_int_equal(parse(json, &m, audio, sizeof(audio)), 0);
	assert_int_equal(m.ev, TW_MEDIA);
	assert_int_equal(m.audio_len, 160);
	assert_memory_equal(audio, raw, 160);
	assert_int_equal(parse(json, &m, audio, 100), -EMSGSIZE);
	assert_int_equal(parse("{\"event\":\"media\",\"streamSid\":\"MZ1\",\"media\":{"
			       "\"payload\":\"!!!!\"}}", &m, audio, sizeof(audio)), -EINVAL);
	assert_int_equal(parse("{\"event\":\"media\",\"streamSid\":\"MZ1\",\"media\":{}}", &m,
			       audio, sizeof(audio)), -EINVAL);
	/* Another track is not the caller's. */
	assert_int_equal(parse("{\"event\":\"media\",\"streamSid\":\"MZ1\",\"media\":{"
			       "\"track\":\"outbound\",\"payload\":\"AAAA\"}}", &m, audio,
			       sizeof(audio)), 0);
	assert_int_equal(m.ev, TW_OTHER);
}

static void dtmf_mark_stop_and_others(void **state)
{
	struct tw_msg m;
	(void)state;

	assert_int_equal(parse("{\"event\":\"dtmf\",\"streamSid\":\"MZ1\",\"sequenceNumber\":\"5\","
			       "\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"#\"}}", &m, NULL,
			       0), 0);
	assert_int_equal(m.ev, TW_DTMF);
	assert_int_equal(m.digit, '#');
	assert_int_equal(parse("{\"event\":\"dtmf\",\"streamSid\":\"MZ1\",\"dtmf\":{\"digit\":"
			       "\"12\"}}", &m, NULL, 0), -EINVAL);
	assert_int_equal(parse("{\"event\":\"mark\",\"sequenceNumber\":\"4\",\"streamSid\":\"MZ1\","
			       "\"mark\":{\"name\":\"8000\"}}", &m, NULL, 0), 0);
	assert_int_equal(m.ev, TW_MARK);
	assert_string_equal(m.mark, "8000");
	assert_int_equal(parse("{\"event\":\"stop\",\"sequenceNumber\":\"5\",\"streamSid\":\"MZ1\","
			       "\"stop\":{\"accountSid\":\"AC1\",\"callSid\":\"CA1\"}}", &m, NULL,
			       0), 0);
	assert_int_equal(m.ev, TW_STOP);
	assert_int_equal(parse("{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":"
			       "\"1.0.0\"}", &m, NULL, 0), 0);
	assert_int_equal(m.ev, TW_CONNECTED);
	assert_int_equal(parse("{\"event\":\"something-new\"}", &m, NULL, 0), 0);
	assert_int_equal(m.ev, TW_OTHER);
}

static void untrusted_input_is_refused(void **state)
{
	struct tw_msg m;
	(void)state;

	assert_int_equal(parse("not json", &m, NULL, 0), -EINVAL);
	assert_int_equal(parse("[1,2]", &m, NULL, 0), -EINVAL);
	/* A sid goes back into our JSON unescaped: quotes must never get in. */
	assert_int_equal(parse("{\"event\":\"mark\",\"streamSid\":\"MZ\\\"x\",\"mark\":{}}", &m,
			       NULL, 0), -EINVAL);
	char longsid[200];
	snprintf(longsid, sizeof(longsid), "{\"event\":\"stop\",\"streamSid\":\"%0100d\"}", 7);
	assert_int_equal(parse(longsid, &m, NULL, 0), -EINVAL);
}

static void what_we_send_is_twilios_shape(void **state)
{
	char out[1024];
	uint8_t u[80], back[80];
	json_t *j;
	size_t n;
	(void)state;

	for (int i = 0; i < 80; i++)
		u[i] = (uint8_t)(255 - i);
	n = tw_media(out, sizeof(out), "MZ9", u, 80);
	assert_true(n > 0 && n == strlen(out));
	assert_non_null(j = json_loads(out, 0, NULL));
	assert_string_equal(json_string_value(json_object_get(j, "event")), "media");
	assert_string_equal(json_string_value(json_object_get(j, "streamSid")), "MZ9");
	const char *p = json_string_value(json_object_get(json_object_get(j, "media"), "payload"));
	assert_int_equal(base64_decode(p, strlen(p), back), 80);
	assert_memory_equal(back, u, 80);
	assert_int_equal(json_object_size(j), 3);
	json_decref(j);
	assert_int_equal(tw_media(out, 50, "MZ9", u, 80), 0);	/* does not fit: nothing */

	assert_true(tw_mark(out, sizeof(out), "MZ9", "1600") > 0);
	assert_string_equal(out, "{\"event\":\"mark\",\"streamSid\":\"MZ9\",\"mark\":{\"name\":"
			    "\"1600\"}}");
	assert_true(tw_clear(out, sizeof(out), "MZ9") > 0);
	assert_string_equal(out, "{\"event\":\"clear\",\"streamSid\":\"MZ9\"}");
	assert_int_equal(tw_clear(out, 10, "MZ9"), 0);
}

static void ulaw_keeps_g711s_values(void **state)
{
	(void)state;
	assert_int_equal(ulaw_decode(0x00), -32124);
	assert_int_equal(ulaw_decode(0x7f), 0);
	assert_int_equal(ulaw_decode(0x80), 32124);
	assert_int_equal(ulaw_decode(0xff), 0);
	assert_int_equal(ulaw_encode(0), 0xff);
	assert_int_equal(ulaw_encode(32767), 0x80);
	assert_int_equal(ulaw_encode(-32768), 0x00);
	/* Every code but negative zero survives decode-encode. */
	for (int u = 0; u < 256; u++)
		if (u != 0x7f)
			assert_int_equal(ulaw_encode(ulaw_decode((uint8_t)u)), u);
	/* Encoding picks the nearest level within a segment's step. */
	for (int s = -32768; s <= 32767; s += 97) {
		int d = ulaw_decode(ulaw_encode((int16_t)s)) - s;
		int mag = s < 0 ? -s : s;
		assert_true(abs(d) <= (mag >> 4) + 16);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(start_gives_the_call_and_its_parameters),
		cmocka_unit_test(start_hands_on_the_calls_variables),
		cmocka_unit_test(media_is_decoded_and_bounded),
		cmocka_unit_test(dtmf_mark_stop_and_others),
		cmocka_unit_test(untrusted_input_is_refused),
		cmocka_unit_test(what_we_send_is_twilios_shape),
		cmocka_unit_test(ulaw_keeps_g711s_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

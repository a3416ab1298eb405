/*
 * test_twilio_relay_wire.c - unit tests for worker/twilio_relay_wire.h
 * (Twilio ConversationRelay messages, protocols.md 6.6).
 *
 * Protects: issue 12 item 3. setup gives the call's callSid and the DID and
 * caller from customParameters (else to/from); a prompt's text and whether
 * it is final; an interrupt's utteranceUntilInterrupt and a fractional
 * durationUntilInterruptMs; dtmf's digit. A callSid that is not letters
 * and digits, a bad digit and non-JSON are refused. What we send, text and
 * end, is JSON of the documented shape.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../worker/twilio_relay_wire.h"

static int parse(const char *json, struct tr_msg *m)
{
	const char *why = NULL;
	int rc = tr_parse(json, strlen(json), m, &why);

	if (rc < 0)
		assert_non_null(why);
	return rc;
}

static void setup_gives_the_call_and_its_parameters(void **state)
{
	struct tr_msg m;
	(void)state;

	assert_int_equal(parse("{\"type\":\"setup\",\"sessionId\":\"VX1\",\"callSid\":\"CA123\","
			       "\"from\":\"+447700900001\",\"to\":\"+442000000000\","
			       "\"customParameters\":{\"did\":\"02000\",\"caller\":\"07700\"}}", &m), 0);
	assert_int_equal(m.type, TR_SETUP);
	assert_string_equal(m.call_sid, "CA123");
	assert_string_equal(m.did, "02000");
	assert_string_equal(m.caller, "07700");
	tr_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"setup\",\"callSid\":\"CA9\",\"from\":\"+1\",\"to\":\"+2\"}",
			       &m), 0);
	assert_string_equal(m.did, "+2");
	assert_string_equal(m.caller, "+1");
	tr_msg_free(&m);
}

static void prompt_interrupt_dtmf(void **state)
{
	struct tr_msg m;
	(void)state;

	assert_int_equal(parse("{\"type\":\"prompt\",\"voicePrompt\":\"a leak\",\"lang\":\"en-GB\","
			       "\"last\":true}", &m), 0);
	assert_int_equal(m.type, TR_PROMPT);
	assert_string_equal(m.text, "a leak");
	assert_true(m.last);
	tr_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"prompt\",\"voicePrompt\":\"a\",\"last\":false}", &m), 0);
	assert_false(m.last);
	tr_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"interrupt\",\"utteranceUntilInterrupt\":\"Hello th\","
			       "\"durationUntilInterruptMs\":812.5}", &m), 0);
	assert_int_equal(m.type, TR_INTERRUPT);
	assert_string_equal(m.text, "Hello th");
	assert_true(m.heard_ms > 812.4 && m.heard_ms < 812.6);
	tr_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"dtmf\",\"digit\":\"0\"}", &m), 0);
	assert_int_equal(m.digit, '0');
	tr_msg_free(&m);
	assert_int_equal(parse("{\"type\":\"info\",\"x\":1}", &m), 0);
	assert_int_equal(m.type, TR_OTHER);
	tr_msg_free(&m);
}

static void bad_input_is_refused(void **state)
{
	struct tr_msg m;
	(void)state;

	assert_int_equal(parse("{\"type\":\"setup\",\"callSid\":\"CA/../x\"}", &m), -EINVAL);
	assert_int_equal(parse("{\"type\":\"dtmf\",\"digit\":\"12\"}", &m), -EINVAL);
	assert_int_equal(parse("{\"type\":\"prompt\"}", &m), -EINVAL);
	assert_int_equal(parse("[1]", &m), -EINVAL);
	assert_int_equal(parse("nope", &m), -EINVAL);
	assert_int_equal(parse("{\"voicePrompt\":\"x\"}", &m), -EINVAL);
}

static void outbound_shapes(void **state)
{
	json_error_t je;
	char *s = tr_text("Hello there", 5, true);
	json_t *j = json_loads(s, 0, &je);
	(void)state;

	assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
	assert_string_equal(json_string_value(json_object_get(j, "token")), "Hello");
	assert_true(json_is_true(json_object_get(j, "last")));
	json_decref(j);
	free(s);
	s = tr_end("{\"reason\":\"caller_asked\"}");
	j = json_loads(s, 0, &je);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "end");
	assert_string_equal(json_string_value(json_object_get(j, "handoffData")),
			    "{\"reason\":\"caller_asked\"}");
	json_decref(j);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(setup_gives_the_call_and_its_parameters),
		cmocka_unit_test(prompt_interrupt_dtmf),
		cmocka_unit_test(bad_input_is_refused),
		cmocka_unit_test(outbound_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

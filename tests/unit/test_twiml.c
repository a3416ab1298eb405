/*
 * test_twiml.c - unit tests for common/twiml.h.
 *
 * Protects: the TwiML Twilio gets from the api and from vagentctl: the
 * stream URL is the wss form of [twilio] public_url with no query string
 * (Twilio refuses one, 31922), every value is XML-escaped (a caller's
 * number or a variable cannot inject an element), ConversationRelay gets
 * its attributes, and a URL that is not https is refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/twiml.h"

static void test_stream_with_escaped_parameters(void **state)
{
	(void)state;
	const char *names[] = { "did", "caller", "note" };
	const char *values[] = { "+442039962952", "+447700900123", "a<b>&\"c'" };
	struct twiml_connect t = { .public_url = "https://v.example.com/", .names = names,
				   .values = values, .n = 3 };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(twiml_connect(&b, &t), 0);
	assert_string_equal(buf_str(&b),
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect>"
		"<Stream url=\"wss://v.example.com/twilio\">"
		"<Parameter name=\"did\" value=\"+442039962952\"/>"
		"<Parameter name=\"caller\" value=\"+447700900123\"/>"
		"<Parameter name=\"note\" value=\"a&lt;b&gt;&amp;&quot;c&apos;\"/>"
		"</Stream></Connect></Response>");
	buf_free(&b);
}

static void test_relay_attributes(void **state)
{
	(void)state;
	const char *names[] = { "did" }, *values[] = { "1" };
	struct twiml_connect t = { .public_url = "https://h/p", .relay = 1, .greeting = "Hi & bye",
				   .language = "en-GB", .tts_provider = "ElevenLabs",
				   .transcription_provider = "Deepgram", .names = names,
				   .values = values, .n = 1 };
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(twiml_connect(&b, &t), 0);
	assert_non_null(strstr(buf_str(&b), "<ConversationRelay url=\"wss://h/p/twilio/relay\" "
			       "welcomeGreeting=\"Hi &amp; bye\" language=\"en-GB\" "
			       "ttsProvider=\"ElevenLabs\" transcriptionProvider=\"Deepgram\" "
			       "interruptible=\"any\" dtmfDetection=\"true\">"));
	assert_null(strstr(buf_str(&b), "voice="));	/* unset: left out */
	assert_non_null(strstr(buf_str(&b), "</ConversationRelay></Connect></Response>"));
	assert_non_null(strstr(buf_str(&b), "<Response><Connect><ConversationRelay"));
	buf_free(&b);

	t.action = "https://h/p/twilio/handoff?a=1&b=2";
	buf_init(&b, 0);
	assert_int_equal(twiml_connect(&b, &t), 0);
	assert_non_null(strstr(buf_str(&b), "<Connect action=\"https://h/p/twilio/handoff?a=1&amp;"
			       "b=2\"><ConversationRelay url="));
	buf_free(&b);
}

static void test_dial_and_hangup(void **state)
{
	(void)state;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(twiml_dial(&b, "One <moment>", "+442030000000"), 0);
	assert_non_null(strstr(buf_str(&b), "<Response><Say>One &lt;moment&gt;</Say>"
			       "<Dial>+442030000000</Dial></Response>"));
	buf_free(&b);
	buf_init(&b, 0);
	assert_int_equal(twiml_dial(&b, NULL, "+442030000000"), 0);
	assert_non_null(strstr(buf_str(&b), "<Response><Dial>+442030000000</Dial></Response>"));
	buf_free(&b);
	buf_init(&b, 0);
	assert_int_equal(twiml_hangup(&b), 0);
	assert_non_null(strstr(buf_str(&b), "<Response><Hangup/></Response>"));
	buf_free(&b);
}

static void test_not_https_is_refused(void **state)
{
	(void)state;
	struct twiml_connect t = { .public_url = "http://v.example.com" };
	struct buf b;
	char out[64];

	buf_init(&b, 0);
	assert_int_equal(twiml_connect(&b, &t), -EINVAL);
	assert_int_equal(twiml_wss_base("https://", out, sizeof(out)), -EINVAL);
	buf_free(&b);
}

static void test_say_and_play(void **state)
{
	(void)state;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(twiml_say_hangup(&b, "Sorry <no>"), 0);
	assert_non_null(strstr(buf_str(&b), "<Say>Sorry &lt;no&gt;</Say><Hangup/></Response>"));
	buf_reset(&b);
	assert_int_equal(twiml_play(&b, "https://h/announce/x.wav?a=1&b=2"), 0);
	assert_non_null(strstr(buf_str(&b), "<Play>https://h/announce/x.wav?a=1&amp;b=2</Play>"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_with_escaped_parameters),
		cmocka_unit_test(test_relay_attributes),
		cmocka_unit_test(test_dial_and_hangup),
		cmocka_unit_test(test_not_https_is_refused),
		cmocka_unit_test(test_say_and_play),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_dg_wire.c - unit tests for worker/stt_dg_wire.h, Deepgram's listen
 * URL and messages.
 *
 * Protects: issue item 1, the URL is as long as the config makes it (a
 * long keyterms list once passed a 1,024-byte buffer and crashed the
 * worker): every term arrives, URL-encoded once, spaces trimmed, empty
 * terms dropped, keywords for models before nova-3. Messages: each kind
 * reaches its hook with text that is never NULL; a final with no text
 * still ends a piece; anything malformed is ignored, never a crash; an
 * Error's description is passed on, cut to fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/conf.h"
#include "../../worker/stt_dg_wire.h"

static void base_conf(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->stt_url, sizeof(c->stt_url), "wss://api.deepgram.com/v1/listen");
	snprintf(c->stt_model, sizeof(c->stt_model), "nova-3");
	snprintf(c->stt_language, sizeof(c->stt_language), "en-GB");
	c->stt_endpointing_ms = 300;
	c->stt_utterance_end_ms = 1000;
}

static void the_url_carries_the_settings(void **state)
{
	struct conf c;
	(void)state;

	base_conf(&c);
	snprintf(c.stt_keyterms, sizeof(c.stt_keyterms), " postcode , plumber,,Amhurst Road, ");
	char *url = dg_listen_url(&c, 8000);
	assert_non_null(url);
	assert_string_equal(url, "wss://api.deepgram.com/v1/listen?model=nova-3&language=en-GB"
		"&encoding=linear16&sample_rate=8000&channels=1&interim_results=true"
		"&vad_events=true&smart_format=true&punctuate=true&endpointing=300"
		"&utterance_end_ms=1000&keyterm=postcode&keyterm=plumber&keyterm=Amhurst%20Road");
	free(url);
	snprintf(c.stt_model, sizeof(c.stt_model), "nova-2");
	snprintf(c.stt_keyterms, sizeof(c.stt_keyterms), "boiler:2");
	url = dg_listen_url(&c, 16000);
	assert_non_null(strstr(url, "&sample_rate=16000&"));
	assert_non_null(strstr(url, "&keywords=boiler%3A2"));
	assert_null(strstr(url, "keyterm"));
	free(url);
}

/* Issue item 1: the longest keyterms a config holds, every byte encoded. */
static void the_longest_keyterms_list_fits_whole(void **state)
{
	struct conf c;
	(void)state;

	base_conf(&c);
	memset(c.stt_url, 'u', sizeof(c.stt_url) - 1);
	memcpy(c.stt_url, "wss://", 6);
	memset(c.stt_model, '&', sizeof(c.stt_model) - 1);
	memcpy(c.stt_model, "nova-3", 6);
	memset(c.stt_language, '?', sizeof(c.stt_language) - 1);
	c.stt_endpointing_ms = c.stt_utterance_end_ms = -2147483647 - 1;
	/* "%,%,%,...": as many terms as fit, each one byte that needs encoding. */
	for (size_t i = 0; i + 1 < sizeof(c.stt_keyterms); i++)
		c.stt_keyterms[i] = i % 2 ? ',' : (char)0xC5;
	char *url = dg_listen_url(&c, -2147483647 - 1);
	assert_non_null(url);
	assert_true(strlen(url) > 3000);
	size_t terms = 0;
	for (const char *p = url; (p = strstr(p, "&keyterm=%C5")); p++)
		terms++;
	assert_int_equal(terms, sizeof(c.stt_keyterms) / 2);
	assert_non_null(strstr(url, "&utterance_end_ms=-2147483648&keyterm="));
	free(url);
}

struct heard {
	char log[512];
};

static void add(struct heard *h, const char *fmt, const char *s)
{
	size_t o = strlen(h->log);
	assert_non_null(s);
	snprintf(h->log + o, sizeof(h->log) - o, fmt, s);
}

static void on_started(void *arg) { add(arg, "%sstarted|", ""); }
static void on_partial(void *arg, const char *t) { add(arg, "partial:%s|", t); }
static void on_final(void *arg, const char *t, bool sf)
{
	add(arg, "final:%s", t);
	add(arg, "%s|", sf ? "!" : "");
}
static void on_end(void *arg) { add(arg, "%send|", ""); }
static void on_error(void *arg, const char *why, bool fatal)
{
	(void)arg; (void)why; (void)fatal;
	fail_msg("dg_message never calls on_error");
}

static const struct stt_events ev = { on_started, on_partial, on_final, on_end, on_error };

static enum dg_kind msg(struct heard *h, const char *json, char *why, size_t whylen)
{
	return dg_message(json, strlen(json), &ev, h, why, whylen);
}

#define RESULTS(fin, sf, t) "{\"type\":\"Results\",\"is_final\":" fin ",\"speech_final\":" sf \
	",\"channel\":{\"alternatives\":[{\"transcript\":" t "}]}}"

static void messages_reach_their_hooks(void **state)
{
	struct heard h = { "" };
	char why[16];
	(void)state;

	assert_int_equal(msg(&h, "{\"type\":\"SpeechStarted\"}", why, 0), DG_SPEECH_STARTED);
	assert_int_equal(msg(&h, RESULTS("false", "false", "\"hel\""), why, 0), DG_PARTIAL);
	assert_int_equal(msg(&h, RESULTS("false", "false", "\"\""), why, 0), DG_IGNORED);
	assert_int_equal(msg(&h, RESULTS("true", "false", "\"hello\""), why, 0), DG_FINAL);
	assert_int_equal(msg(&h, RESULTS("true", "true", "\"\""), why, 0), DG_FINAL);
	assert_int_equal(msg(&h, "{\"type\":\"UtteranceEnd\"}", why, 0), DG_UTTERANCE_END);
	assert_string_equal(h.log, "started|partial:hel|final:hello|final:!|end|");
	assert_int_equal(msg(&h, "{\"type\":\"Error\",\"description\":\"a long description\"}",
			     why, sizeof(why)), DG_ERROR);
	assert_string_equal(why, "a long descript");
	assert_int_equal(msg(&h, "{\"type\":\"Error\"}", why, sizeof(why)), DG_ERROR);
	assert_string_equal(why, "no description");
}

static void malformed_messages_are_ignored(void **state)
{
	static const char *const bad[] = {
		"", "not json", "[]", "17", "{\"type\":7}", "{\"type\":\"Metadata\"}",
		"{\"type\":\"Results\"}", "{\"type\":\"Results\",\"channel\":[]}",
		RESULTS("true", "true", "5"), RESULTS("true", "true", "null"),
		"{\"type\":\"Results\",\"channel\":{\"alternatives\":{}}}",
		"{\"type\":\"SpeechStarted\",\"type\":\"UtteranceEnd\"}",
	};
	struct heard h = { "" };
	char why[8];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msg(&h, bad[i], why, sizeof(why)), DG_IGNORED);
	assert_string_equal(h.log, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_url_carries_the_settings),
		cmocka_unit_test(the_longest_keyterms_list_fits_whole),
		cmocka_unit_test(messages_reach_their_hooks),
		cmocka_unit_test(malformed_messages_are_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

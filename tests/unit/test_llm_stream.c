/*
 * test_llm_stream.c - unit tests for worker/llm_oai_stream.h, what an
 * OpenAI-compatible chat-completions stream says.
 *
 * Protects: text pieces in order; tool calls assembled from fragments by
 * index, a new id at a used index starting a new call (protocols.md
 * pitfall 6); the finish reason; [DONE] ends it and what follows is
 * ignored; a failure inside a 200 stream is an error with a reason, never
 * a short reply and never a NULL reason (issue item 4: {"error":1}); a
 * stream cut before [DONE] is an error; a stop from on_token stops.
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

#include "../../worker/llm_oai_stream.h"

struct got {
	char text[1024];
	int tokens;
	int stop_after;		/* on_token says stop after this many (0: never) */
};

static bool on_token(void *arg, const char *text, size_t len)
{
	struct got *g = arg;
	size_t o = strlen(g->text);

	snprintf(g->text + o, sizeof(g->text) - o, "%.*s", (int)len, text);
	g->tokens++;
	return !(g->stop_after && g->tokens >= g->stop_after);
}

/* Feeds body whole; returns the feed result; *end gets oai_stream_end's. */
static int run(struct oai_stream *s, struct got *g, const char *body, int *end)
{
	assert_int_equal(oai_stream_init(s, on_token, g), 0);
	int rc = oai_stream_feed(s, body, strlen(body));
	if (end)
		*end = rc == 0 ? oai_stream_end(s) : rc;
	return rc;
}

#define TOK(t) "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}]}\n\n"

static void text_pieces_then_done(void **state)
{
	struct oai_stream s;
	struct got g = { 0 };
	int end;
	(void)state;

	assert_int_equal(run(&s, &g, TOK("Hel") TOK("lo.")
			     "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
			     "data: [DONE]\n\n" TOK("after"), &end), 0);
	assert_int_equal(end, 0);
	assert_string_equal(g.text, "Hello.");
	assert_true(s.done);
	assert_string_equal(s.finish, "stop");
	assert_int_equal(json_array_size(s.calls), 0);
	oai_stream_free(&s);
}

#define TC(frag) "data: {\"choices\":[{\"delta\":{\"tool_calls\":[" frag "]}}]}\n\n"

static void tool_calls_are_assembled_from_fragments(void **state)
{
	struct oai_stream s;
	struct got g = { 0 };
	int end;
	(void)state;

	assert_int_equal(run(&s, &g,
		TC("{\"index\":0,\"id\":\"call_a\",\"function\":{\"name\":\"create_booking\","
		   "\"arguments\":\"{\\\"a\\\":\"}}")
		TC("{\"index\":0,\"function\":{\"arguments\":\"1}\"}}")
		/* Groq: a second call at the same index, with a new id. */
		TC("{\"index\":0,\"id\":\"call_b\",\"function\":{\"name\":\"end_call\","
		   "\"arguments\":\"{}\"}}")
		"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
		"data: [DONE]\n\n", &end), 0);
	assert_int_equal(end, 0);
	assert_int_equal(json_array_size(s.calls), 2);
	json_t *a = json_array_get(s.calls, 0), *b = json_array_get(s.calls, 1);
	assert_string_equal(json_string_value(json_object_get(a, "id")), "call_a");
	assert_string_equal(json_string_value(json_object_get(a, "name")), "create_booking");
	assert_string_equal(json_string_value(json_object_get(a, "arguments")), "{\"a\":1}");
	assert_string_equal(json_string_value(json_object_get(b, "name")), "end_call");
	assert_string_equal(s.finish, "tool_calls");
	oai_stream_free(&s);
}

/* Issue item 4: every in-stream failure has a reason, whatever its shape. */
static void errors_in_the_stream_always_have_a_reason(void **state)
{
	static const struct {
		const char *body, *why;
	} cases[] = {
		{ "data: {\"error\":1}\n\n", "error in the stream" },
		{ "data: {\"error\":{}}\n\n", "error in the stream" },
		{ "data: {\"error\":\"busy\"}\n\n", "busy" },
		{ "data: {\"error\":{\"message\":\"overloaded\"}}\n\n", "overloaded" },
		{ "data: {\"x_groq\":{\"error\":\"over capacity\"}}\n\n", "over capacity" },
		{ "data: {\"x_groq\":{\"error\":[]}}\n\n", "error in the stream" },
		{ "event: error\ndata: {\"error\":{\"message\":\"bad\"}}\n\n", "bad" },
		{ "event: error\ndata: not json\n\n", "error event in the stream" },
		{ "event: error\ndata: {}\n\n", "error in the stream" },
		{ "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]\n\n",
		  "malformed data line in the stream" },
		{ "data: 17\n\n", "malformed data line in the stream" },
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct oai_stream s;
		struct got g = { 0 };
		int end;
		assert_int_equal(run(&s, &g, cases[i].body, &end), -EPROTO);
		assert_int_equal(end, -EPROTO);
		assert_true(s.failed);
		assert_string_equal(s.why, cases[i].why);
		oai_stream_free(&s);
	}
}

static void a_null_error_is_no_error(void **state)
{
	struct oai_stream s;
	struct got g = { 0 };
	int end;
	(void)state;

	assert_int_equal(run(&s, &g, "data: {\"error\":null,\"choices\":[{\"delta\":"
			     "{\"content\":\"ok\"}}]}\n\ndata: [DONE]\n\n", &end), 0);
	assert_int_equal(end, 0);
	assert_string_equal(g.text, "ok");
	oai_stream_free(&s);
}

static void a_stream_cut_before_done_is_an_error(void **state)
{
	struct oai_stream s;
	struct got g = { 0 };
	int end;
	(void)state;

	assert_int_equal(run(&s, &g, TOK("Half a rep"), &end), 0);
	assert_int_equal(end, -EPROTO);
	assert_string_equal(s.why, "stream ended before [DONE]");
	oai_stream_free(&s);
	/* A finish reason without [DONE] (some servers skip it) is whole. */
	memset(&g, 0, sizeof(g));
	assert_int_equal(run(&s, &g, TOK("Whole.")
			     "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}",
			     &end), 0);
	assert_int_equal(end, 0);
	oai_stream_free(&s);
}

static void too_many_or_too_long_tool_calls_are_errors(void **state)
{
	char body[16384] = "";
	struct oai_stream s;
	struct got g = { 0 };
	(void)state;

	for (int i = 0; i <= OAI_CALLS_MAX; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body),
			 TC("{\"index\":%d,\"id\":\"c%d\",\"function\":{\"name\":\"f\"}}"), i, i);
	assert_int_equal(run(&s, &g, body, NULL), -EPROTO);
	assert_string_equal(s.why, "too many tool calls");
	oai_stream_free(&s);

	static char args[OAI_ARGS_MAX / 2 + 100];
	memset(args, 'x', sizeof(args) - 1);
	args[sizeof(args) - 1] = '\0';
	assert_int_equal(oai_stream_init(&s, on_token, &g), 0);
	for (int i = 0; i < 3; i++) {
		char *frag = NULL;
		assert_true(asprintf(&frag, TC("{\"index\":0,\"function\":{\"arguments\":\"%s\"}}"),
				     args) > 0);
		int rc = oai_stream_feed(&s, frag, strlen(frag));
		free(frag);
		if (rc)
			break;
	}
	assert_true(s.failed);
	assert_string_equal(s.why, "tool call arguments too long");
	oai_stream_free(&s);
}

static void a_stop_from_on_token_stops_reading(void **state)
{
	struct oai_stream s;
	struct got g = { .stop_after = 1 };
	(void)state;

	assert_int_equal(run(&s, &g, TOK("one") TOK("two"), NULL), 1);
	assert_string_equal(g.text, "one");
	assert_int_equal(oai_stream_feed(&s, TOK("three"), strlen(TOK("three"))), 1);
	assert_string_equal(g.text, "one");
	oai_stream_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_pieces_then_done),
		cmocka_unit_test(tool_calls_are_assembled_from_fragments),
		cmocka_unit_test(errors_in_the_stream_always_have_a_reason),
		cmocka_unit_test(a_null_error_is_no_error),
		cmocka_unit_test(a_stream_cut_before_done_is_an_error),
		cmocka_unit_test(too_many_or_too_long_tool_calls_are_errors),
		cmocka_unit_test(a_stop_from_on_token_stops_reading),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_sse.c - unit tests for worker/sse.h, the server-sent events framing
 * the LLM stream is read with.
 *
 * Protects: events come out the same however the bytes are cut (a CR in
 * one read and its LF in the next is one line end); LF, CRLF and CR line
 * ends; comments, id/retry and unknown fields ignored; multi-line data
 * joined by LF; the event type reset after each event; a line or event
 * over the limit is refused, not grown without end; sse_finish hands over
 * an event the server ended without its blank line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/sse.h"

struct got {
	char text[4096];	/* "type=data|" per event */
	int n;
	int stop_after;		/* return 1 after this many events (0: never) */
};

static int collect(void *arg, const char *event, const char *data, size_t len)
{
	struct got *g = arg;
	size_t o = strlen(g->text);

	assert_int_equal(strlen(data), len);
	snprintf(g->text + o, sizeof(g->text) - o, "%s=%s|", event, data);
	g->n++;
	return g->stop_after && g->n >= g->stop_after;
}

/* Feeds s in pieces of `step` bytes, then finishes. */
static int feed_in_steps(const char *s, size_t step, size_t max, struct got *g)
{
	struct sse p;
	size_t n = strlen(s);
	int rc = 0;

	sse_init(&p, max);
	for (size_t i = 0; i < n && !rc; i += step)
		rc = sse_feed(&p, s + i, n - i < step ? n - i : step, collect, g);
	if (!rc)
		rc = sse_finish(&p, collect, g);
	sse_free(&p);
	return rc;
}

static const char stream[] =
	": keep-alive\r\n"
	"data: {\"a\":1}\r\n\r\n"
	"id: 7\nretry: 100\nfoo: bar\ndata:{\"b\":2}\n\n"
	"event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n"
	"data: one\ndata: two\ndata\n\n"
	"data: cr\r\r"
	"data: [DONE]\n\n";

static const char expected[] =
	"message={\"a\":1}|message={\"b\":2}|error={\"error\":{\"message\":\"x\"}}|"
	"message=one\ntwo\n|message=cr|message=[DONE]|";

static void events_are_the_same_however_the_bytes_are_cut(void **state)
{
	(void)state;
	for (size_t step = 1; step <= sizeof(stream); step++) {
		struct got g = { 0 };
		assert_int_equal(feed_in_steps(stream, step, 1024, &g), 0);
		assert_string_equal(g.text, expected);
	}
}

static void blank_lines_without_data_dispatch_nothing(void **state)
{
	struct got g = { 0 };
	(void)state;

	assert_int_equal(feed_in_steps("\n\n\r\n: c\n\nevent: x\n\n", 3, 64, &g), 0);
	assert_int_equal(g.n, 0);
	/* The type does not leak into the next event. */
	assert_int_equal(feed_in_steps("event: x\n\ndata: y\n\n", 1, 64, &g), 0);
	assert_string_equal(g.text, "message=y|");
}

static void an_event_without_its_blank_line_is_handed_over_at_the_end(void **state)
{
	struct got g = { 0 };
	(void)state;

	assert_int_equal(feed_in_steps("data: a\n\ndata: [DONE]", 4, 64, &g), 0);
	assert_string_equal(g.text, "message=a|message=[DONE]|");
}

static void a_line_or_event_over_the_limit_is_refused(void **state)
{
	char big[300];
	struct got g = { 0 };
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(feed_in_steps(big, 7, 64, &g), -EMSGSIZE);
	/* Many short data lines of one event: the event is over the limit. */
	char many[600] = "";
	for (int i = 0; i < 30; i++)
		strcat(many, "data: 0123456789\n");
	assert_int_equal(feed_in_steps(many, 5, 128, &g), -EMSGSIZE);
	assert_int_equal(g.n, 0);
}

static void a_callback_can_stop_the_feed(void **state)
{
	struct got g = { .stop_after = 1 };
	(void)state;

	assert_int_equal(feed_in_steps("data: a\n\ndata: b\n\n", 100, 64, &g), 1);
	assert_string_equal(g.text, "message=a|");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(events_are_the_same_however_the_bytes_are_cut),
		cmocka_unit_test(blank_lines_without_data_dispatch_nothing),
		cmocka_unit_test(an_event_without_its_blank_line_is_handed_over_at_the_end),
		cmocka_unit_test(a_line_or_event_over_the_limit_is_refused),
		cmocka_unit_test(a_callback_can_stop_the_feed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

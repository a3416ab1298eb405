/*
 * test_ws.c - unit tests for ws_open() in worker/ws.h.
 *
 * Protects (issue item 1): a URL is taken at its length, not cut to a
 * fixed buffer; one that libwebsockets could not send whole, a malformed
 * one or too many headers is refused with a code, never a callback from
 * inside ws_open, and nothing stays allocated (LeakSanitizer under SAN=1).
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/ws.h"

static void never(void *arg) { (void)arg; fail_msg("a handler ran inside ws_open"); }
static void never_msg(void *arg, const char *d, size_t n, bool b)
{
	(void)d; (void)n; (void)b;
	never(arg);
}
static void never_close(void *arg, int c, int h, const char *r)
{
	(void)c; (void)h; (void)r;
	never(arg);
}

static const struct ws_handlers h = {
	.on_open = never, .on_message = never_msg, .on_close = never_close, .on_gone = never,
};

static char *url_of(size_t path_len)
{
	const char *head = "ws://127.0.0.1:9/";
	char *u = malloc(strlen(head) + path_len + 1);

	strcpy(u, head);
	memset(u + strlen(head), 'a', path_len - 1);	/* the '/' counts */
	u[strlen(head) + path_len - 1] = '\0';
	return u;
}

static void urls_are_taken_at_their_length_or_refused(void **state)
{
	struct event_base *base = event_base_new();
	struct ws_loop *l;
	struct ws_conn *c;
	const char *hdr[] = { "A: 1", "B: 2", "C: 3", "D: 4", "E: 5", "F: 6", "G: 7", "H: 8",
			      "I: 9", NULL };
	(void)state;

	assert_int_equal(ws_loop_new(&l, base, NULL), 0);
	char *ok = url_of(WS_PATH_MAX), *big = url_of(WS_PATH_MAX + 1);
	assert_true(strlen(ok) > 1024);
	assert_int_equal(ws_open(&c, l, big, NULL, &h, NULL), -ENAMETOOLONG);
	assert_null(c);
	assert_int_equal(ws_open(&c, l, "not a url", NULL, &h, NULL), -EINVAL);
	assert_int_equal(ws_open(&c, l, "ftp://127.0.0.1/x", NULL, &h, NULL), -EINVAL);
	assert_int_equal(ws_open(&c, l, ok, hdr, &h, NULL), -E2BIG);
	assert_null(c);
	hdr[8] = NULL;
	assert_int_equal(ws_open(&c, l, ok, hdr, &h, NULL), 0);
	assert_non_null(c);
	ws_close(c);
	free(ok);
	free(big);
	ws_loop_free(l);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(urls_are_taken_at_their_length_or_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

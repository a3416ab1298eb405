/*
 * test_buf.c - unit tests for common/buf.h.
 *
 * Protects: every growable buffer in vagent (websocket messages, TTS audio
 * staging, the agent's transcript and prompt, the writer's batch) relies
 * on these: contents survive growth, the ceiling refuses a peer that never
 * stops and leaves the contents untouched, text is always NUL-terminated,
 * and consume/truncate keep the rest exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/buf.h"

static void test_appends_survive_growth(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_string_equal(buf_str(&b), "");
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append_byte(&b, (uint8_t)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10000);
	for (size_t i = 0; i < b.len; i++)
		assert_int_equal(b.data[i], 'a' + i % 26);
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(NULL);
}

static void test_ceiling_refuses_and_keeps_contents(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(buf_append_str(&b, "world!"), -EMSGSIZE);
	assert_string_equal(buf_str(&b), "hello");
	assert_int_equal(buf_append_str(&b, "world"), 0);
	assert_string_equal(buf_str(&b), "helloworld");
	assert_int_equal(buf_append_byte(&b, 'x'), -EMSGSIZE);
	assert_int_equal(buf_reserve(&b, SIZE_MAX, NULL), -EMSGSIZE);
	buf_free(&b);
}

static void test_reserve_then_commit(void **state)
{
	(void)state;
	struct buf b;
	uint8_t *tail;
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "ab"), 0);
	assert_int_equal(buf_reserve(&b, 1000, &tail), 0);
	assert_int_equal(b.len, 2);
	memset(tail, 'z', 3);
	buf_commit(&b, 3);
	assert_string_equal(buf_str(&b), "abzzz");
	assert_int_equal(buf_reserve(&b, 5, &tail), 0);
	buf_commit(&b, 0);
	assert_string_equal(buf_str(&b), "abzzz");
	buf_free(&b);
}

static void test_consume_truncate_reset(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_append_str(&b, "0123456789"), 0);
	buf_consume(&b, 3);
	assert_string_equal(buf_str(&b), "3456789");
	buf_truncate(&b, 4);
	assert_string_equal(buf_str(&b), "3456");
	buf_truncate(&b, 40);
	assert_string_equal(buf_str(&b), "3456");
	buf_consume(&b, 99);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	size_t cap = b.cap;
	assert_int_equal(buf_append_str(&b, "again"), 0);
	buf_reset(&b);
	assert_int_equal(b.cap, cap);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void test_printf_small_and_large(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%s=%d\n", "calls", 7), 0);
	char big[1000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 8 + 1001);
	assert_memory_equal(b.data, "calls=7\n[q", 10);
	assert_int_equal(b.data[b.len - 1], ']');
	assert_int_equal(b.data[b.len], '\0');
	buf_free(&b);

	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%s", big), -EMSGSIZE);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* A caller's own printf-like wrapper, as sup_status.c's put(). */
static int wrapped(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wrapped(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

static void test_vprintf_through_a_wrapper(void **state)
{
	(void)state;
	struct buf b;
	char big[600];
	memset(big, 'w', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 0);
	assert_int_equal(wrapped(&b, "%s %d|", "le", 42), 0);
	/* Longer than the first pass's 256 bytes: formatted again from a copy of ap. */
	assert_int_equal(wrapped(&b, "%d:%s:%s", 7, big, "end"), 0);
	assert_int_equal(b.len, 6 + 2 + 599 + 4);
	assert_memory_equal(b.data, "le 42|7:w", 9);
	assert_string_equal(buf_str(&b) + b.len - 5, "w:end");
	buf_free(&b);

	buf_init(&b, 8);
	assert_int_equal(wrapped(&b, "%s", "fits"), 0);
	assert_int_equal(wrapped(&b, "%s", big), -EMSGSIZE);
	assert_string_equal(buf_str(&b), "fits");
	buf_free(&b);
}

static void test_steal_hands_over_the_string(void **state)
{
	(void)state;
	struct buf b;
	size_t n;
	buf_init(&b, 0);
	assert_null(buf_steal(&b, &n));
	assert_int_equal(n, 0);
	assert_int_equal(buf_append_str(&b, "prompt"), 0);
	char *s = buf_steal(&b, &n);
	assert_string_equal(s, "prompt");
	assert_int_equal(n, 6);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	free(s);
	assert_int_equal(buf_append_str(&b, "reuse"), 0);
	assert_string_equal(buf_str(&b), "reuse");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_appends_survive_growth),
		cmocka_unit_test(test_ceiling_refuses_and_keeps_contents),
		cmocka_unit_test(test_reserve_then_commit),
		cmocka_unit_test(test_consume_truncate_reset),
		cmocka_unit_test(test_printf_small_and_large),
		cmocka_unit_test(test_vprintf_through_a_wrapper),
		cmocka_unit_test(test_steal_hands_over_the_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_split.c - unit tests for supervisor/ctl_split.h.
 *
 * Protects: vagentctl db migrate sends a migration's statements one by one
 * exactly where MariaDB's client would split them: never inside a quote
 * or comment, executable comments kept as SQL, plain comments and empty
 * statements dropped, line numbers right for the error message, and an
 * unclosed quote or comment refused with the line it opened on. The text
 * is given without a terminator, so ASan catches a read past its end.
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

#include "../../supervisor/ctl/ctl_split.h"

#define MAXS 8

struct split {
	int rc;			/* the last split_next() return */
	int n;
	char *stmt[MAXS];
	unsigned int line[MAXS];
	unsigned int bad_line;	/* rc -EBADMSG: where the unclosed thing opened */
};

/* Splits text (copied without its NUL) and keeps every statement. */
static void split_all(const char *text, struct split *out)
{
	size_t len = strlen(text), b = 0, e = 0;
	char *copy = malloc(len ? len : 1);
	unsigned int line = 0;

	assert_non_null(copy);
	memcpy(copy, text, len);
	struct splitter sp = { .s = copy, .len = len, .line = 1 };
	memset(out, 0, sizeof(*out));
	while ((out->rc = split_next(&sp, &b, &e, &line)) == 1) {
		assert_true(out->n < MAXS);
		assert_true(b <= e && e <= len);
		out->stmt[out->n] = strndup(copy + b, e - b);
		out->line[out->n++] = line;
	}
	out->bad_line = line;
	free(copy);
}

static void split_free(struct split *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->stmt[i]);
}

static void expect(const char *text, int n, const char *const *stmts,
		   const unsigned int *lines)
{
	struct split s;

	split_all(text, &s);
	assert_int_equal(s.rc, 0);
	if (s.n != n)
		fail_msg("%d statement(s) in \"%s\", not %d", s.n, text, n);
	for (int i = 0; i < n; i++) {
		assert_string_equal(s.stmt[i], stmts[i]);
		if (lines)
			assert_int_equal(s.line[i], lines[i]);
	}
	split_free(&s);
}

static void test_statements_and_their_lines(void **state)
{
	(void)state;
	expect("CREATE TABLE a (x INT);\nINSERT INTO a VALUES (1);\n", 2,
	       (const char *const[]){ "CREATE TABLE a (x INT)", "INSERT INTO a VALUES (1)" },
	       (const unsigned[]){ 1, 2 });
	expect("\n\n  SELECT\n 1;", 1, (const char *const[]){ "SELECT\n 1" },
	       (const unsigned[]){ 3 });
	expect("SELECT 1", 1, (const char *const[]){ "SELECT 1" }, NULL);
	expect("", 0, NULL, NULL);
	expect(" ;;\n ; ", 0, NULL, NULL);
}

static void test_comments_are_not_statements(void **state)
{
	(void)state;
	expect("-- one; two\n# three; four\n/* five;\n six */ SELECT 1;", 1,
	       (const char *const[]){ "SELECT 1" }, (const unsigned[]){ 4 });
	expect("SELECT 1; -- the end", 1, (const char *const[]){ "SELECT 1" }, NULL);
	expect("SELECT 1;\n--", 1, (const char *const[]){ "SELECT 1" }, NULL);
	expect("SELECT 1 # not ; the end\n;", 1,
	       (const char *const[]){ "SELECT 1 # not ; the end\n" }, NULL);
	/* "--" with no blank after it is MariaDB's minus minus, not a comment */
	expect("SELECT 1--1;", 1, (const char *const[]){ "SELECT 1--1" }, NULL);
}

static void test_quotes_hide_semicolons(void **state)
{
	(void)state;
	expect("INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);SELECT 2;", 2,
	       (const char *const[]){ "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)",
				      "SELECT 2" }, NULL);
	expect("SELECT 'it''s; fine';", 1, (const char *const[]){ "SELECT 'it''s; fine'" },
	       NULL);
	expect("SELECT 'a\\';b';", 1, (const char *const[]){ "SELECT 'a\\';b'" }, NULL);
	expect("SELECT `a\\`;SELECT 3;", 2,
	       (const char *const[]){ "SELECT `a\\`", "SELECT 3" }, NULL);
	expect("SELECT '-- no; # no; /* no';", 1,
	       (const char *const[]){ "SELECT '-- no; # no; /* no'" }, NULL);
	expect("SELECT 'a\nb\\\nc';\nSELECT 4;", 2,
	       (const char *const[]){ "SELECT 'a\nb\\\nc'", "SELECT 4" },
	       (const unsigned[]){ 1, 4 });
}

static void test_executable_comments_are_sql(void **state)
{
	(void)state;
	expect("/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x = 1 */;", 2,
	       (const char *const[]){ "/*!40101 SET NAMES utf8mb4 */",
				      "/*M!100100 SET x = 1 */" }, (const unsigned[]){ 1, 2 });
	expect("SELECT 1 /*!; */ ;", 1, (const char *const[]){ "SELECT 1 /*!; */ " }, NULL);
}

/* A comment that merely begins with 'M' is a comment, not SQL to send alone. */
static void test_comment_beginning_with_M_is_a_comment(void **state)
{
	(void)state;
	expect("SELECT 1;\n/*Migration 004 ends here*/\n", 1,
	       (const char *const[]){ "SELECT 1" }, NULL);
	expect("/*Make the table*/ CREATE TABLE t (x INT);", 1,
	       (const char *const[]){ "CREATE TABLE t (x INT)" }, NULL);
}

static void unclosed(const char *text, unsigned int line)
{
	struct split s;

	split_all(text, &s);
	if (s.rc != -EBADMSG)
		fail_msg("\"%s\" split without complaint", text);
	assert_int_equal(s.bad_line, line);
	split_free(&s);
}

static void test_unclosed_quote_or_comment_is_refused(void **state)
{
	(void)state;
	unclosed("SELECT 1;\nSELECT 'abc;\n\n", 2);
	unclosed("SELECT \"abc", 1);
	unclosed("SELECT `abc", 1);
	unclosed("SELECT 'abc\\", 1);
	unclosed("SELECT 1;\n\n/* never closed;", 3);
	unclosed("/*/", 1);
	unclosed("/*!40101 SET x = 1 *", 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statements_and_their_lines),
		cmocka_unit_test(test_comments_are_not_statements),
		cmocka_unit_test(test_quotes_hide_semicolons),
		cmocka_unit_test(test_executable_comments_are_sql),
		cmocka_unit_test(test_comment_beginning_with_M_is_a_comment),
		cmocka_unit_test(test_unclosed_quote_or_comment_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

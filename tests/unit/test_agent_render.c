/*
 * test_agent_render.c - unit tests for agent_render (worker/agent_render.c).
 *
 * Protects: the system prompt and the greeting the caller hears are the
 * templates with each {{name}} replaced by the call's variable as a person
 * would say it (numbers as digits, booleans as yes/no), a name that is
 * not there by nothing, and anything that is not a {{name}} left as it
 * was; a long result is whole, however much the variables add.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/agent.h"

static json_t *vars;
static char *out;

static int setup(void **state)
{
	(void)state;
	vars = json_pack("{s:s, s:s, s:i, s:f, s:b, s:b, s:n, s:[i], s:s}",
			 "company_name", "George The Plumber", "time_greeting", "good morning",
			 "callout_fee", 48, "rate", 49.5, "is_repeat", 1, "weekend", 0,
			 "area", "list", 1, "city", "Zürich");
	return vars ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	json_decref(vars);
	free(out);
	out = NULL;
	return 0;
}

static const char *render(const char *tmpl)
{
	free(out);
	assert_int_equal(agent_render(tmpl, vars, &out), 0);
	assert_non_null(out);
	return out;
}

static void test_names_become_their_values(void **state)
{
	(void)state;
	assert_string_equal(render("Hello, {{company_name}}, {{time_greeting}}. How can I help?"),
			    "Hello, George The Plumber, good morning. How can I help?");
	assert_string_equal(render("{{ company_name }}|{{city}}"), "George The Plumber|Zürich");
}

static void test_numbers_and_booleans_are_said_plainly(void **state)
{
	(void)state;
	assert_string_equal(render("fee {{callout_fee}} pounds, rate {{rate}}"),
			    "fee 48 pounds, rate 49.5");
	assert_string_equal(render("repeat: {{is_repeat}}, weekend: {{weekend}}"),
			    "repeat: yes, weekend: no");
}

static void test_unknown_null_and_structured_values_become_nothing(void **state)
{
	(void)state;
	assert_string_equal(render("a{{nosuch}}b{{area}}c{{list}}d"), "abcd");
	free(out);
	assert_int_equal(agent_render("x{{company_name}}y", NULL, &out), 0);
	assert_string_equal(out, "xy");
}

static void test_what_is_not_a_name_is_left_as_it_was(void **state)
{
	char name[80], tmpl[100];

	(void)state;
	assert_string_equal(render("{single} {{unclosed and } done"),
			    "{single} {{unclosed and } done");
	assert_string_equal(render(""), "");
	/* 64 characters or more between the braces is text, not a name. */
	memset(name, 'a', 70);
	name[70] = '\0';
	snprintf(tmpl, sizeof(tmpl), "<{{%s}}>", name);
	assert_string_equal(render(tmpl), tmpl);
}

static void test_a_long_result_is_whole(void **state)
{
	char big[3001];
	char want[10 * 1023 + 1];

	(void)state;
	memset(big, 'x', 3000);
	big[3000] = '\0';
	json_object_set_new(vars, "big", json_string(big));
	/* A value is cut at 1023 bytes, as a peer's context field always was. */
	memset(want, 'x', 10 * 1023);
	want[10 * 1023] = '\0';
	assert_string_equal(render("{{big}}{{big}}{{big}}{{big}}{{big}}{{big}}{{big}}{{big}}"
				   "{{big}}{{big}}"), want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_become_their_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numbers_and_booleans_are_said_plainly, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_null_and_structured_values_become_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_what_is_not_a_name_is_left_as_it_was, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_a_long_result_is_whole, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_agent_heard.c - unit tests for agent_heard_len (worker/agent_heard.c).
 *
 * Protects: the history's record of an interrupted reply is a prefix of
 * what the model wrote, ending after the last word the TTS says it spoke,
 * however the TTS spelt its words: punctuation as words of their own or
 * stuck to a word, a word repeated, numbers and abbreviations read out
 * ("48" as "forty eight"), other case. A word not found close by stops
 * the kept part short, never lets it run ahead; no word heard keeps
 * nothing. (The issue: "the job, but" was kept as "the job , but".)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/agent.h"

/* What the function keeps of reply when the words were heard, as a string. */
static const char *kept(const char *reply, const char *const *words, size_t n)
{
	static char out[512];
	size_t len = agent_heard_len(reply, strlen(reply), words, n);

	assert_true(len <= strlen(reply));
	memcpy(out, reply, len);
	out[len] = '\0';
	return out;
}

#define KEPT(reply, ...) kept(reply, (const char *const[]){ __VA_ARGS__ }, \
	sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static const char *LONG = "Well, our prices depend on the job, but there is a callout fee of "
			  "forty eight pounds.";

static void test_punctuation_said_as_words_keeps_the_reply_spelling(void **state)
{
	(void)state;
	assert_string_equal(KEPT(LONG, "Well", ",", "our", "prices", "depend", "on", "the", "job",
				 ",", "but"),
			    "Well, our prices depend on the job, but");
	assert_string_equal(KEPT(LONG, "Well,", "our", "prices", "depend", "on", "the", "job,"),
			    "Well, our prices depend on the job,");
	/* Cut after "job", its comma not yet "spoken": the comma is silent. */
	assert_string_equal(KEPT(LONG, "Well", ",", "our", "prices", "depend", "on", "the", "job"),
			    "Well, our prices depend on the job,");
	assert_string_equal(KEPT("Hi! How are you?", "Hi", "!", "How"), "Hi! How");
	assert_string_equal(KEPT("Yes - of course.", "Yes", "-", "of", "course", "."),
			    "Yes - of course.");
}

static void test_repeated_words_are_taken_in_order(void **state)
{
	(void)state;
	const char *r = "No, no, no problem at all, no charge.";

	assert_string_equal(KEPT(r, "No"), "No,");
	assert_string_equal(KEPT(r, "no", "no"), "No, no,");
	assert_string_equal(KEPT(r, "No", "no", "no", "problem"), "No, no, no problem");
	assert_string_equal(KEPT("that is what it is, is it not", "that", "is", "what", "it",
				 "is"), "that is what it is,");
	/* "the" is not the start of "there". */
	assert_string_equal(KEPT("there is the fee", "there", "is", "the"), "there is the");
	assert_string_equal(KEPT("there is the fee", "the"), "");
}

static void test_words_the_tts_normalised_differently(void **state)
{
	(void)state;
	const char *r = "A callout fee of 48 pounds, and after that a fixed price.";

	/* "48" read as two words: found again at "pounds". */
	assert_string_equal(KEPT(r, "A", "callout", "fee", "of", "forty", "eight", "pounds",
				 "and"), "A callout fee of 48 pounds, and");
	/* Cut inside the number: stop short, never claim "48" was heard. */
	assert_string_equal(KEPT(r, "A", "callout", "fee", "of", "forty", "eight"),
			    "A callout fee of");
	assert_string_equal(KEPT("Dr. Smith will call you", "Doctor", "Smith", "will"),
			    "Dr. Smith will");
	assert_string_equal(KEPT("HELLO there", "hello"), "HELLO");
	assert_string_equal(KEPT("I don't know", "I", "dont", "know"), "I don't know");
	assert_string_equal(KEPT("Postcode E5 9ES, right?", "Postcode", "E59ES"),
			    "Postcode E5 9ES,");
	assert_string_equal(KEPT("Caf\xc3\xa9 au lait", "Caf\xc3\xa9", "au"), "Caf\xc3\xa9 au");
}

static void test_a_word_not_close_by_is_never_searched_for_ahead(void **state)
{
	(void)state;
	const char *r = "one two three four five six seven eight nine ten, the end";

	assert_string_equal(KEPT(r, "one", "uno", "the"), "one");
	assert_string_equal(KEPT(r, "one", "two", "four"), "one two three four");
	assert_string_equal(KEPT(r, "one", "two", "nine"), "one two");
}

static void test_no_words_heard_keeps_nothing(void **state)
{
	(void)state;
	assert_int_equal(agent_heard_len(LONG, strlen(LONG), NULL, 0), 0);
	assert_string_equal(KEPT(LONG, ",", "."), "");
	assert_string_equal(KEPT(LONG, "Hello", "world"), "");
	assert_string_equal(KEPT(LONG, "", NULL), "");
	assert_int_equal(agent_heard_len(NULL, 0, (const char *const[]){ "Well" }, 1), 0);
	assert_string_equal(KEPT("", "Well"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_punctuation_said_as_words_keeps_the_reply_spelling),
		cmocka_unit_test(test_repeated_words_are_taken_in_order),
		cmocka_unit_test(test_words_the_tts_normalised_differently),
		cmocka_unit_test(test_a_word_not_close_by_is_never_searched_for_ahead),
		cmocka_unit_test(test_no_words_heard_keeps_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

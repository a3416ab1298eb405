/*
 * agent_heard.c - how much of an interrupted reply the caller heard, as a
 * prefix of the reply's own text.
 *
 * The TTS reports the words it has spoken in its own spelling: punctuation
 * may come as words of their own ("job", ",", "but"), numbers and
 * abbreviations as it read them ("48" as "forty", "eight"), and where a
 * reply is cut into pieces depends on timing. Joining those words would
 * give the model a history that is not what it wrote ("the job , but"),
 * so instead each heard word is found in the reply's text, in order, close
 * to where the previous one was found, and the kept part ends where the
 * last found word ends. A word not found close by (the TTS said it its
 * own way) is skipped and never looked for further on: the kept part may
 * stop short of what was heard, never run past it, so the model never
 * believes it said what was never heard.
 *
 * Owns: nothing; a pure function of its arguments (unit-tested on its own).
 * Never: allocates, logs, or reads reply past len.
 * Fails: cannot; nothing found is a prefix of length 0.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>

#include "agent.h"

/* Reply words a heard word may lie ahead of the last one found, plus one
 * for each heard word not found since (said in place of a reply word). */
#define NEAR_WORDS 2
#define NEAR_MAX 8

/* Letters, digits and any byte of a UTF-8 sequence make words. */
static bool word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

static bool word_start(const char *r, size_t i)
{
	return word_byte((unsigned char)r[i]) && (i == 0 || !word_byte((unsigned char)r[i - 1]));
}

/*
 * Whether word, ignoring case and everything but letters and digits,
 * is spelt by reply from the word start at i to a word end; the end in
 * *end. "E59ES" matches "E5 9ES", "dont" matches "don't".
 */
static bool match_at(const char *r, size_t len, size_t i, const char *word, size_t *end)
{
	for (const char *w = word; *w; w++) {
		unsigned char c = (unsigned char)*w;
		if (!word_byte(c))
			continue;
		while (i < len && !word_byte((unsigned char)r[i]))
			i++;
		if (i == len || tolower((unsigned char)r[i]) != tolower(c))
			return false;
		i++;
	}
	if (i < len && word_byte((unsigned char)r[i]))
		return false;	/* "the" is not the start of "there" */
	*end = i;
	return true;
}

static bool has_word_byte(const char *w)
{
	for (; *w; w++)
		if (word_byte((unsigned char)*w))
			return true;
	return false;
}

/* Finds word among the next `near` reply words from *at; moves *at past it. */
static bool find_near(const char *r, size_t len, size_t *at, const char *word, int near)
{
	for (size_t i = *at; i < len && near > 0; i++) {
		size_t end;
		if (!word_start(r, i))
			continue;
		if (match_at(r, len, i, word, &end)) {
			*at = end;
			return true;
		}
		near--;
	}
	return false;
}

size_t agent_heard_len(const char *reply, size_t len, const char *const *words, size_t n)
{
	size_t at = 0, heard = 0;
	int missed = 0;

	if (!reply)
		return 0;
	for (size_t k = 0; k < n; k++) {
		int near = NEAR_WORDS + missed;
		if (!words[k] || !has_word_byte(words[k]))
			continue;	/* punctuation said as a word: nothing to find */
		if (find_near(reply, len, &at, words[k], near > NEAR_MAX ? NEAR_MAX : near)) {
			heard = at;
			missed = 0;
		} else {
			missed++;
		}
	}
	/* The punctuation closing the last word heard goes with it: "job," */
	while (heard && heard < len && !isspace((unsigned char)reply[heard]) &&
	       !word_byte((unsigned char)reply[heard]))
		heard++;
	return heard;
}

/*
 * agent_interrupt.c - the caller talked over a reply that the caller's
 * side spoke itself (Twilio ConversationRelay), and says what was heard.
 *
 * The history must hold only what the caller heard, as on any barge-in
 * (agent_dialog.c). Two cases: the reply is still being written (its
 * tokens still going out), so it is a barge-in like any other, with the
 * heard words standing for the TTS's timed words; or it was all sent
 * already and Twilio was still speaking it, so the history's latest
 * assistant message is cut to the heard prefix of its own text
 * (agent_heard_len: never past what was heard).
 *
 * Owns: nothing. Never: keeps an assistant message with neither content
 * nor tool calls (the API refuses it, and every later request with it).
 */
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "agent.h"

#define WORDS_MAX 256

/* heard's words, in place (spaces become NULs). How many. */
static size_t split(char *heard, const char **words)
{
	size_t n = 0;

	for (char *w = strtok(heard, " \t\n"); w && n < WORDS_MAX; w = strtok(NULL, " \t\n"))
		words[n++] = w;
	return n;
}

/* The latest assistant message with text: cut to what was heard. */
static void cut_sent_reply(struct agent *a, const char **words, size_t n)
{
	for (size_t i = json_array_size(a->history); i-- > 0;) {
		json_t *m = json_array_get(a->history, i);
		const char *role = json_string_value(json_object_get(m, "role"));
		const char *text = json_string_value(json_object_get(m, "content"));
		if (!role || strcmp(role, "assistant") || !text)
			continue;
		size_t len = agent_heard_len(text, strlen(text), words, n);
		char *kept = strndup(text, len);
		if (!kept)
			return;
		if (len)
			json_object_set_new(m, "content", json_string(kept));
		else if (json_array_size(json_object_get(m, "tool_calls")))
			json_object_set_new(m, "content", json_null());
		else
			json_array_remove(a->history, i);
		agent_transcript_cut(a, kept);
		a->barge_ins++;
		log_info("agent", a->uuid, "interrupted after the reply was sent; kept \"%.60s\"",
			 kept);
		free(kept);
		return;
	}
}

void agent_interrupted(struct agent *a, const char *heard)
{
	const char *words[WORDS_MAX];
	char *copy = strdup(heard ? heard : "");
	size_t n;

	if (!copy || a->state == AG_ENDING) {
		free(copy);
		return;
	}
	n = split(copy, words);
	if (a->reply_ctx) {
		/* Timed at 0 s, every heard word comes before the cut (heard_part). */
		json_array_clear(a->reply_words);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a->reply_words, json_pack("[s, f]", words[i], 0.0));
		agent_barge_in(a, "Twilio's interrupt");
	} else {
		cut_sent_reply(a, words, n);
	}
	free(copy);
}

/*
 * emu_dg_results.c - the Results messages of vagent-emu's Deepgram TEST
 * DOUBLE: the script's utterance as Deepgram words (lower-case "word",
 * "punctuated_word" as scripted when punctuate or smart_format is on),
 * spread evenly over the speech they were heard in, with the slice's
 * start and duration, is_final / speech_final / from_finalize and the
 * metadata block (protocols.md 1.3).
 *
 * Owns: building the JSON; nothing is kept between calls.
 * Never: touches a connection.
 * Fails: NULL when out of memory (the caller ends the connection).
 */
#include "emu_dg.h"
#include "emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS	256

struct words {
	size_t n;
	char *punct[MAX_WORDS];		/* as the script has it */
	char *plain[MAX_WORDS];		/* lower case, no punctuation */
};

static void words_free(struct words *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->punct[i]);
		free(w->plain[i]);
	}
	w->n = 0;
}

static char *plain_word(const char *tok)
{
	char *p = malloc(strlen(tok) + 1), *o = p;

	if (!p)
		return NULL;
	for (; *tok; tok++)
		if (isalnum((unsigned char)*tok) || *tok == '\'' || (unsigned char)*tok >= 0x80)
			*o++ = (char)tolower((unsigned char)*tok);
	*o = '\0';
	return p;
}

static void words_split(const char *text, struct words *w)
{
	const char *p = text;

	w->n = 0;
	while (*p && w->n < MAX_WORDS) {
		size_t len;

		while (*p && isspace((unsigned char)*p))
			p++;
		len = strcspn(p, " \t\r\n");
		if (!len)
			break;
		w->punct[w->n] = strndup(p, len);
		w->plain[w->n] = w->punct[w->n] ? plain_word(w->punct[w->n]) : NULL;
		p += len;
		if (!w->plain[w->n] || !w->plain[w->n][0]) {
			free(w->punct[w->n]);
			free(w->plain[w->n]);
			continue;
		}
		w->n++;
	}
}

static json_t *metadata_of(const struct dg_cfg *cfg, const char *request_id,
			   const char *model_uuid)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "request_id", request_id,
			 "model_uuid", model_uuid, "model_info", "name", cfg->model,
			 "version", "emu", "arch", cfg->model);
}

/* The alternative for the first k words, spread over [t0, t1]. */
static json_t *alternative(const struct dg_cfg *cfg, const struct words *w, size_t k,
			   double t0, double t1)
{
	bool punct = cfg->punctuate || cfg->smart_format;
	json_t *arr = json_array();
	char transcript[4096] = "";
	size_t tl = 0;
	double d = k ? (t1 - t0) / (double)k : 0;

	for (size_t i = 0; i < k && arr; i++) {
		const char *shown = punct ? w->punct[i] : w->plain[i];
		double ws = t0 + d * (double)i;

		json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:f, s:s}",
			"word", w->plain[i], "start", emu_json_secs(ws),
			"end", emu_json_secs(i + 1 == k ? t1 : ws + d * 0.9), "confidence", 0.99,
			"punctuated_word", shown));
		tl += (size_t)snprintf(transcript + tl, sizeof(transcript) - tl, "%s%s",
				       i ? " " : "", shown);
		if (tl >= sizeof(transcript))
			tl = sizeof(transcript) - 1;
	}
	return json_pack("{s:s, s:f, s:o*}", "transcript", transcript,
			 "confidence", k ? 0.98 : 0.0, "words", arr);
}

json_t *dg_results(const struct dg_cfg *cfg, const char *request_id, const char *model_uuid,
		   const struct dg_slice *sl)
{
	struct words w;
	size_t reveal;
	json_t *j;

	words_split(sl->text, &w);
	reveal = sl->reveal > w.n ? w.n : sl->reveal;
	j = json_pack("{s:s, s:[i,i], s:o, s:o, s:b, s:b, s:b, s:{s:[o]}, s:o}",
		      "type", "Results", "channel_index", 0, 1,
		      "duration", emu_json_secs(sl->end - sl->start), "start", emu_json_secs(sl->start),
		      "is_final", sl->is_final, "speech_final", sl->speech_final,
		      "from_finalize", sl->from_finalize, "channel", "alternatives",
		      alternative(cfg, &w, reveal, sl->w0, sl->w1),
		      "metadata", metadata_of(cfg, request_id, model_uuid));
	words_free(&w);
	return j;
}

size_t dg_count_words(const char *text)
{
	struct words w;
	size_t n;

	words_split(text, &w);
	n = w.n;
	words_free(&w);
	return n;
}

/*
 * stt_dg_wire.c - Deepgram's listen URL and messages. See stt_dg_wire.h.
 *
 * Why the URL is sized, not fixed: a long [stt] keyterms list once passed
 * a 1,024-byte buffer, the connection could not be opened and the worker
 * crashed. Every term costs "&keyterm=" plus up to three bytes per
 * character once encoded; the buffer is that worst case, counted first.
 * A message is a peer's bytes: any field may be missing or of another type.
 */
#include "stt_dg_wire.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"

static bool unreserved(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

/* Appends n bytes of s percent-encoded at out; returns the bytes written. */
static size_t put_encoded(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (unreserved((char)ch)) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	return o;
}

/* The next comma-separated term of *p, spaces trimmed; false at the end. */
static bool next_term(const char **p, const char **term, size_t *n)
{
	const char *s = *p, *e;

	if (!*s)
		return false;
	e = s + strcspn(s, ",");
	*p = *e ? e + 1 : e;
	while (s < e && *s == ' ')
		s++;
	while (e > s && e[-1] == ' ')
		e--;
	*term = s;
	*n = (size_t)(e - s);
	return true;
}

char *dg_listen_url(const struct conf *c, int rate)
{
	bool nova3 = !strncmp(c->stt_model, "nova-3", 6);
	const char *param = nova3 ? "&keyterm=" : "&keywords=", *p = c->stt_keyterms, *t;
	size_t n, terms = 1, cap, tlen;
	char *url;
	int head;

	for (const char *q = p; *q; q++)
		terms += *q == ',';
	/* 256: the fixed parameters with three ints of up to 11 characters (< 200). */
	cap = strlen(c->stt_url) + 3 * (strlen(c->stt_model) + strlen(c->stt_language)) + 256 +
	      terms * strlen(param) + 3 * strlen(c->stt_keyterms) + 1;
	if (!(url = malloc(cap)))
		return NULL;
	head = snprintf(url, cap, "%s?model=", c->stt_url);
	n = (size_t)head + put_encoded(url + head, c->stt_model, strlen(c->stt_model));
	n += (size_t)snprintf(url + n, cap - n, "&language=");
	n += put_encoded(url + n, c->stt_language, strlen(c->stt_language));
	n += (size_t)snprintf(url + n, cap - n,
		"&encoding=linear16&sample_rate=%d&channels=1&interim_results=true"
		"&vad_events=true&smart_format=true&punctuate=true&endpointing=%d"
		"&utterance_end_ms=%d", rate, c->stt_endpointing_ms, c->stt_utterance_end_ms);
	while (next_term(&p, &t, &tlen)) {
		if (!tlen)
			continue;	/* "a,,b" or a trailing comma: no empty term */
		memcpy(url + n, param, strlen(param));
		n += strlen(param);
		n += put_encoded(url + n, t, tlen);
	}
	url[n] = '\0';
	return url;
}

/* The first alternative's transcript of a Results message, NULL if none. */
static const char *transcript(json_t *j)
{
	json_t *alt = json_array_get(json_object_get(json_object_get(j, "channel"),
						     "alternatives"), 0);
	return json_string_value(json_object_get(alt, "transcript"));
}

static enum dg_kind results(json_t *j, const struct stt_events *ev, void *arg)
{
	const char *t = transcript(j);

	if (!t)
		return DG_IGNORED;
	if (json_is_true(json_object_get(j, "is_final"))) {
		ev->on_final(arg, t, json_is_true(json_object_get(j, "speech_final")));
		return DG_FINAL;
	}
	if (!*t)
		return DG_IGNORED;
	ev->on_partial(arg, t);
	return DG_PARTIAL;
}

enum dg_kind dg_message(const char *data, size_t len, const struct stt_events *ev, void *arg,
			char *why, size_t whylen)
{
	json_error_t jerr;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	const char *type = json_string_value(json_object_get(j, "type"));
	enum dg_kind k = DG_IGNORED;

	if (!type) {
		/* not JSON, or no type: noise, not a reason to drop the call */
	} else if (!strcmp(type, "SpeechStarted")) {
		ev->on_speech_started(arg);
		k = DG_SPEECH_STARTED;
	} else if (!strcmp(type, "UtteranceEnd")) {
		ev->on_utterance_end(arg);
		k = DG_UTTERANCE_END;
	} else if (!strcmp(type, "Results")) {
		k = results(j, ev, arg);
	} else if (!strcmp(type, "Error")) {
		const char *d = json_string_value(json_object_get(j, "description"));
		const char *m = json_string_value(json_object_get(j, "message"));
		if (whylen)
			snprintf(why, whylen, "%s", d ? d : m ? m : "no description");
		k = DG_ERROR;
	}
	json_decref(j);
	return k;
}

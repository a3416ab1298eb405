/*
 * llm_oai_stream.h - what an OpenAI-compatible chat-completions stream
 * says (protocols.md section 2), from the bytes of its 200 body: text
 * pieces, tool calls assembled from their fragments, the finish reason,
 * [DONE], and a failure reported inside the stream.
 *
 * Owns: one response's parse state (struct oai_stream). Pure: no I/O, no
 * logging; llm_openai.c feeds it what curl delivers, and the unit tests and
 * tests/fuzz/fuzz_sse.c feed it the same way.
 */
#ifndef VG_LLM_OAI_STREAM_H
#define VG_LLM_OAI_STREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "sse.h"

#define OAI_EVENT_MAX (256 * 1024)	/* one SSE event; a longer one is an error */
#define OAI_ARGS_MAX (64 * 1024)	/* one tool call's arguments */
#define OAI_CALLS_MAX 32		/* tool calls in one reply */

/* A text piece; return false to stop reading (the request is going away). */
typedef bool (*oai_token_fn)(void *arg, const char *text, size_t len);

struct oai_stream {
	struct sse sse;
	oai_token_fn on_token;
	void *arg;
	bool done;		/* [DONE] came: the answer is whole */
	bool failed;		/* the stream reported an error or broke: why */
	bool stopped;		/* on_token said stop */
	char why[200];
	char finish[24];	/* the finish reason, "" until one came */
	json_t *calls;		/* [{"index", "id", "name", "arguments"(string)}] */
};

/* 0 or -ENOMEM (then nothing is held). */
int oai_stream_init(struct oai_stream *s, oai_token_fn on_token, void *arg);
void oai_stream_free(struct oai_stream *s);	/* NULL or zeroed is fine */

/*
 * Reads a piece of the body. Returns 0 (go on), 1 when reading should stop
 * (on_token said so), or -EPROTO once the stream failed (why says how).
 * Bytes after [DONE] are ignored.
 */
int oai_stream_feed(struct oai_stream *s, const char *data, size_t len);

/*
 * The body ended without a transport error: 0 when the answer is whole
 * ([DONE], or a finish reason from a server that skips [DONE]), else
 * -EPROTO with why filled.
 */
int oai_stream_end(struct oai_stream *s);

#endif

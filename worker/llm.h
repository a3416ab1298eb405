/*
 * llm.h - a streaming chat-completion request, behind an ops table.
 *
 * Owns: one request to a language model and its streamed answer. The
 * provider file knows the wire format; the dialog sees text pieces as
 * they arrive, then either the tool calls the model asked for and the
 * finish reason, or an error it can act on (retry after, apologise).
 *
 * The contract, the same for every provider client (stt.h, tts.h):
 *  - start() returns 0 or -errno and never calls back from inside itself;
 *    on failure nothing of the request is left allocated and *out is NULL.
 *  - Every callback runs on the worker's main loop.
 *  - Exactly one terminal callback per started request, on_done or
 *    on_error, always (a stream that ends badly, a transport error after
 *    a whole stream: still exactly one). After it the request is gone:
 *    forget the pointer, never cancel() it.
 *  - cancel() before the terminal callback stops the request and frees
 *    it; nothing more is called. It may be called from inside on_token.
 *  - Text pointers (why, finish_reason, text) are never NULL and only
 *    borrowed for the call.
 */
#ifndef VG_LLM_H
#define VG_LLM_H

#include <jansson.h>
#include <stddef.h>

struct conf;
struct http;
struct llm_req;

struct llm_events {
	void (*on_token)(void *arg, const char *text, size_t len);
	/* calls: array of {"id","name","arguments"(string)}; borrowed. */
	void (*on_done)(void *arg, const char *finish_reason, json_t *calls);
	/*
	 * status: HTTP status, or 0 for a transport failure or a stream cut
	 * short; retry_after_ms: when the provider says so (bounded by
	 * http_status.h), else -1. Whether to try again:
	 * http_status_permanent(status).
	 */
	void (*on_error)(void *arg, long status, int retry_after_ms, const char *why);
};

struct llm_ops {
	const char *name;
	int (*start)(struct llm_req **out, struct http *h, const struct conf *c,
		     json_t *messages, json_t *tools, const struct llm_events *ev, void *arg);
	void (*cancel)(struct llm_req *r);
};

extern const struct llm_ops llm_openai;

#endif

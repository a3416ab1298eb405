/*
 * llm.h - a streaming chat-completion request, behind an ops table.
 *
 * Owns: one request to a language model and its streamed answer. The
 * provider file knows the wire format; the dialog sees text pieces as
 * they arrive, then either the tool calls the model asked for and the
 * finish reason, or an error it can act on (retry after, apologise).
 * Every callback runs on the worker's main loop. After on_done or
 * on_error the request is gone; llm_cancel() before that stops it and
 * nothing more is called.
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
	 * short; retry_after_ms: when the provider says so, else -1.
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

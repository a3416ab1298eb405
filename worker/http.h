/*
 * http.h - HTTP requests from a worker: libcurl's multi interface driven by
 * the worker's libevent loop.
 *
 * Owns: the curl multi handle, its sockets and its timer, and each
 * request's buffers. Used by the LLM client (a streamed response read as
 * it arrives), the call context lookup and webhook tools. Callbacks run on
 * the main loop; a request can be aborted at any time, and then nothing
 * more is called for it.
 */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct http;
struct http_req;

struct http_handlers {
	/* Response headers are in: status known. May be NULL. */
	void (*on_status)(void *arg, long status, const char *retry_after);
	/* A piece of the body, as it arrives. false aborts the request. */
	bool (*on_data)(void *arg, const char *data, size_t len);
	/* Finished: curl's result (0 = transfer complete), the status, why not. */
	void (*on_done)(void *arg, int curl_code, long status, const char *error);
};

struct http_opts {
	const char *method;		/* "GET", "POST" */
	const char *url;
	const char *const *headers;	/* "Name: value", NULL-terminated */
	const char *body;		/* copied; NULL for none */
	size_t body_len;
	long timeout_ms;		/* whole request; 0 = none */
	long connect_timeout_ms;
};

int http_new(struct http **out, struct event_base *base);
void http_free(struct http *h);	/* aborts what is running; NULL is fine */

int http_start(struct http *h, struct http_req **out, const struct http_opts *o,
	       const struct http_handlers *hd, void *arg);

/* Stops the request; no callback follows. NULL is fine. */
void http_abort(struct http_req *r);

#endif

/*
 * sse.h - server-sent events (the WHATWG EventSource stream format) from
 * bytes, as they arrive in pieces cut anywhere.
 *
 * Owns: the line and the event being assembled, bounded by a maximum
 * event size. Knows nothing of what an event means (llm_oai_stream.c
 * does). Pure: no I/O; the unit tests and tests/fuzz/fuzz_sse.c run it as
 * the worker does.
 */
#ifndef VG_SSE_H
#define VG_SSE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * One event: its type ("message" when the stream named none) and its data
 * lines joined by '\n', NUL-terminated (len excludes the NUL). Return 0 to
 * go on; anything else stops sse_feed, which returns it.
 */
typedef int (*sse_event_fn)(void *arg, const char *event, const char *data, size_t len);

struct sse {
	size_t max;		/* the longest line and the largest event's data */
	char *line;		/* the line being read */
	size_t linelen, linecap;
	char *data;		/* the event's data so far */
	size_t datalen, datacap;
	bool has_data;		/* a data field came (an empty one counts) */
	char event[32];		/* its type; "" until an event field */
	bool after_cr;		/* the last byte was a CR: a LF now ends nothing */
};

/* Starts empty; buffers grow as needed up to max bytes. */
void sse_init(struct sse *s, size_t max);
void sse_free(struct sse *s);		/* NULL or zeroed is fine */

/*
 * Reads n bytes: lines end at CRLF, LF or CR; "field: value" lines (one
 * space after the colon dropped), comments (":"), a blank line dispatches
 * the event if it has data. Returns 0, fn's nonzero return, -EMSGSIZE for a
 * line or event over max, -ENOMEM. After an error, feed no more.
 */
int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg);

/*
 * End of the stream: a last line without its end and an event without its
 * blank line are dispatched (lenient: some servers end the body right after
 * the last data line). Same returns as sse_feed.
 */
int sse_finish(struct sse *s, sse_event_fn fn, void *arg);

#endif

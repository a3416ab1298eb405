/*
 * sse.c - server-sent events framing. See sse.h.
 *
 * Why by hand and bounded: the stream is a peer's and arrives cut at any
 * byte (a CR in one read, its LF in the next), and a server that never
 * sends a newline must not make us grow without end. Buffers start small
 * and double up to max, so a request costs little until it streams.
 */
#include "sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SSE_START 1024

void sse_init(struct sse *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
}

void sse_free(struct sse *s)
{
	if (!s)
		return;
	free(s->line);
	free(s->data);
	s->line = s->data = NULL;
	s->linelen = s->linecap = s->datalen = s->datacap = 0;
}

/* Room for n more bytes and a NUL in *buf, within max. */
static int reserve(char **buf, size_t *cap, size_t len, size_t n, size_t max)
{
	if (len + n > max)
		return -EMSGSIZE;
	if (len + n + 1 <= *cap)
		return 0;
	size_t c = *cap ? *cap : SSE_START;
	while (c < len + n + 1)
		c *= 2;
	if (c > max + 1)
		c = max + 1;
	char *p = realloc(*buf, c);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

static int dispatch(struct sse *s, sse_event_fn fn, void *arg)
{
	int rc = 0;

	if (s->has_data) {
		if (s->datalen && s->data[s->datalen - 1] == '\n')
			s->datalen--;	/* the spec drops the last data line's LF */
		if (s->data)
			s->data[s->datalen] = '\0';
		rc = fn(arg, s->event[0] ? s->event : "message", s->data ? s->data : "",
			s->datalen);
	}
	s->datalen = 0;
	s->has_data = false;
	s->event[0] = '\0';
	return rc;
}

/* One whole line (s->line, NUL-terminated). */
static int on_line(struct sse *s, sse_event_fn fn, void *arg)
{
	char *line = s->line ? s->line : "";
	size_t len = s->linelen;

	if (len == 0)
		return dispatch(s, fn, arg);
	if (line[0] == ':')
		return 0;	/* a comment (keep-alive) */
	char *colon = memchr(line, ':', len);
	size_t nlen = colon ? (size_t)(colon - line) : len;
	const char *v = colon ? colon + 1 : line + len;
	if (colon && *v == ' ')
		v++;
	size_t vlen = len - (size_t)(v - line);
	if (nlen == 4 && !memcmp(line, "data", 4)) {
		int rc = reserve(&s->data, &s->datacap, s->datalen, vlen + 1, s->max);
		if (rc)
			return rc;
		memcpy(s->data + s->datalen, v, vlen);
		s->datalen += vlen;
		s->data[s->datalen++] = '\n';
		s->has_data = true;
	} else if (nlen == 5 && !memcmp(line, "event", 5)) {
		size_t n = vlen < sizeof(s->event) - 1 ? vlen : sizeof(s->event) - 1;
		memcpy(s->event, v, n);
		s->event[n] = '\0';
	}
	return 0;	/* id, retry and unknown fields mean nothing to us */
}

int sse_feed(struct sse *s, const char *p, size_t n, sse_event_fn fn, void *arg)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		int rc;
		if (ch == '\n' && s->after_cr) {
			s->after_cr = false;	/* the LF of a CRLF */
			continue;
		}
		s->after_cr = ch == '\r';
		if (ch == '\n' || ch == '\r') {
			if (s->line)
				s->line[s->linelen] = '\0';
			rc = on_line(s, fn, arg);
			s->linelen = 0;
			if (rc)
				return rc;
			continue;
		}
		/* Copy the run up to the next line end at once. */
		size_t run = 1;
		while (i + run < n && p[i + run] != '\n' && p[i + run] != '\r')
			run++;
		if ((rc = reserve(&s->line, &s->linecap, s->linelen, run, s->max)))
			return rc;
		memcpy(s->line + s->linelen, p + i, run);
		s->linelen += run;
		i += run - 1;
	}
	return 0;
}

int sse_finish(struct sse *s, sse_event_fn fn, void *arg)
{
	int rc = 0;

	if (s->linelen) {
		s->line[s->linelen] = '\0';
		rc = on_line(s, fn, arg);
		s->linelen = 0;
	}
	s->after_cr = false;
	return rc ? rc : dispatch(s, fn, arg);
}

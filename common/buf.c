/*
 * buf.c - the growable byte buffer (see buf.h).
 *
 * Growth doubles, from 256 bytes, so appending n bytes one at a time costs
 * O(n) copies; the ceiling is checked before any allocation so that a
 * refused append leaves nothing half done.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_FIRST 256
#define BUF_LIMIT (SIZE_MAX / 2)

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max && max < BUF_LIMIT ? max : BUF_LIMIT;
}

void buf_free(struct buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

int buf_reserve(struct buf *b, size_t more, uint8_t **tail)
{
	if (more > b->max - b->len)
		return -EMSGSIZE;
	size_t need = b->len + more + 1;	/* + the trailing NUL */
	if (need > b->cap) {
		size_t cap = b->cap ? b->cap : BUF_FIRST;
		while (cap < need)
			cap = cap > BUF_LIMIT / 2 ? need : cap * 2;
		uint8_t *p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
		b->data[b->len] = '\0';
	}
	if (tail)
		*tail = b->data + b->len;
	return 0;
}

void buf_commit(struct buf *b, size_t n)
{
	/* Only what buf_reserve() made room for: a larger n is our own bug. */
	if (!b->data || n > b->cap - 1 - b->len)
		abort();
	b->len += n;
	b->data[b->len] = '\0';
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t *tail;
	int rc = buf_reserve(b, n, &tail);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(tail, p, n);
	buf_commit(b, n);
	return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, uint8_t c)
{
	return buf_append(b, &c, 1);
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	uint8_t *tail;
	va_list again;
	int rc;

	va_copy(again, ap);	/* for a second pass when the text outgrows small */
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		rc = -EINVAL;
	} else if ((size_t)n < sizeof(small)) {
		rc = buf_append(b, small, (size_t)n);
	} else if ((rc = buf_reserve(b, (size_t)n, &tail)) == 0) {
		/* The NUL lands in the reserved byte. */
		vsnprintf((char *)tail, (size_t)n + 1, fmt, again);
		buf_commit(b, (size_t)n);
	}
	va_end(again);
	return rc;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void buf_truncate(struct buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->data[n] = '\0';
}

const char *buf_str(const struct buf *b)
{
	return b->data ? (const char *)b->data : "";
}

char *buf_steal(struct buf *b, size_t *len)
{
	char *p = (char *)b->data;

	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

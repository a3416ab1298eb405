/*
 * buf.h - the one growable byte buffer of the tree.
 *
 * Owns: a heap buffer that grows on demand up to a ceiling set at init,
 * always followed by one NUL byte that is not part of its contents, so a
 * buffer of text is also a C string without a second copy. OpenSSH's
 * sshbuf is the model, cut down to what our producers and parsers use:
 * append, reserve-then-commit (a decoder writes straight into the tail),
 * consume from the front, reset without freeing.
 *
 * Must never: grow past its ceiling (a peer that streams without end gets
 * -EMSGSIZE, not our memory), or move its contents behind the back of a
 * pointer taken with buf_reserve() before the matching buf_commit().
 *
 * Fails with 0 or a negative errno: -EMSGSIZE (over the ceiling), -ENOMEM.
 * A failed call leaves the contents as they were. Not thread-safe: one
 * owner at a time.
 */
#ifndef VG_BUF_H
#define VG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t *data;		/* NULL until the first growth */
	size_t len;		/* bytes of contents */
	size_t cap;		/* bytes allocated, the trailing NUL included */
	size_t max;		/* ceiling on len */
};

/* An empty buffer that may hold up to max bytes (0: no ceiling but SIZE_MAX / 2). */
void buf_init(struct buf *b, size_t max);

/* Frees the memory; b is then an empty buffer with the same ceiling. NULL is fine. */
void buf_free(struct buf *b);

/* Empties b and keeps its memory for the next use. */
void buf_reset(struct buf *b);

/*
 * Makes room for more bytes after the contents without changing len; *tail
 * (may be NULL) points at them until the next call that may grow b. Follow
 * with buf_commit() of how many were written.
 */
int buf_reserve(struct buf *b, size_t more, uint8_t **tail);

/* Adds n bytes written into the space buf_reserve() returned. */
void buf_commit(struct buf *b, size_t n);

int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, uint8_t c);

/* Appends formatted text (the NUL stays outside the contents). */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same with a va_list, for a caller's own printf-like wrapper; ap is used up. */
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Drops n bytes from the front (all of them when n >= len). */
void buf_consume(struct buf *b, size_t n);

/* Keeps the first n bytes (no-op when n >= len). */
void buf_truncate(struct buf *b, size_t n);

/* The contents as a NUL-terminated string ("" when empty; never NULL). */
const char *buf_str(const struct buf *b);

/*
 * Hands the memory to the caller (free() it) and leaves b empty; NULL when
 * b never grew. For a result that outlives the buffer, such as a rendered
 * prompt.
 */
char *buf_steal(struct buf *b, size_t *len);

#endif

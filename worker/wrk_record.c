/*
 * wrk_record.c - one call's stereo recording. See wrk_record.h.
 */
#include "wrk_record.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/wav.h"

#define PAIR_CHUNK 512		/* frames interleaved per fwrite */

struct side {
	int16_t *s;
	size_t len;		/* queued, waiting for the other side */
};

struct wrk_record {
	struct wav_writer ww;
	struct side side[2];	/* 0: caller (left), 1: agent (right) */
	size_t cap;		/* per side: the pairing window */
	bool failed;
	char uuid[40];
	char path[PATH_MAX];
	int16_t frames[PAIR_CHUNK * 2];
};

static void give_up(struct wrk_record *r, int err)
{
	log_warn("rec", r->uuid, "recording %s stopped: %s; the call goes on", r->path,
		 strerror(err));
	r->failed = true;
	wav_writer_close(&r->ww);	/* best effort: what got there stays playable */
}

/* n frames: l and r (either may be NULL for silence) interleaved to the file. */
static void emit(struct wrk_record *r, const int16_t *l, const int16_t *rt, size_t n)
{
	while (n && !r->failed) {
		size_t k = n < PAIR_CHUNK ? n : PAIR_CHUNK;
		wav_interleave(r->frames, l, rt, k);
		if (wav_writer_append(&r->ww, r->frames, k * 2) < 0) {
			give_up(r, ferror(r->ww.fp) && errno ? errno : EIO);
			return;
		}
		l = l ? l + k : NULL;
		rt = rt ? rt + k : NULL;
		n -= k;
	}
}

/* Writes what both sides have, keeping the rest of the longer one queued. */
static void pair(struct wrk_record *r)
{
	struct side *a = &r->side[0], *b = &r->side[1];
	size_t n = a->len < b->len ? a->len : b->len;

	if (!n)
		return;
	emit(r, a->s, b->s, n);
	memmove(a->s, a->s + n, (a->len - n) * sizeof(int16_t));
	memmove(b->s, b->s + n, (b->len - n) * sizeof(int16_t));
	a->len -= n;
	b->len -= n;
}

/* A side that filled its window while the other said nothing: against silence. */
static void flush_alone(struct wrk_record *r, int which)
{
	struct side *s = &r->side[which];

	emit(r, which == 0 ? s->s : NULL, which == 1 ? s->s : NULL, s->len);
	s->len = 0;
}

static void push(struct wrk_record *r, int which, const uint8_t *pcm, size_t n)
{
	struct side *s = &r->side[which];

	while (n && !r->failed) {
		size_t k = r->cap - s->len < n ? r->cap - s->len : n;
		memcpy(s->s + s->len, pcm, k * sizeof(int16_t));
		s->len += k;
		pcm += k * sizeof(int16_t);
		n -= k;
		pair(r);
		if (s->len == r->cap)
			flush_alone(r, which);
	}
}

void wrk_record_in(struct wrk_record *r, const void *pcm, size_t n)
{
	if (r && !r->failed)
		push(r, 0, pcm, n);
}

void wrk_record_out(struct wrk_record *r, const void *pcm, size_t n)
{
	if (r && !r->failed)
		push(r, 1, pcm, n);
}

void wrk_record_out_catch_up(struct wrk_record *r, size_t ahead)
{
	static const int16_t zero[PAIR_CHUNK];
	size_t want, have, n;

	if (!r || r->failed)
		return;
	/* Written to the file, both sides are level: the queues say the rest. */
	want = r->side[0].len + ahead;
	have = r->side[1].len;
	for (n = want > have ? want - have : 0; n && !r->failed; ) {
		size_t k = n < PAIR_CHUNK ? n : PAIR_CHUNK;
		push(r, 1, (const uint8_t *)zero, k);
		n -= k;
	}
}

void wrk_record_out_drop(struct wrk_record *r, size_t n)
{
	if (!r || r->failed)
		return;
	r->side[1].len -= n < r->side[1].len ? n : r->side[1].len;
}

const char *wrk_record_path(const struct wrk_record *r)
{
	return r ? r->path : "";
}

static int open_file(struct wrk_record *r, const char *dir, int rate)
{
	int fd, rc;

	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	if ((size_t)snprintf(r->path, sizeof(r->path), "%s/%s.wav", dir, r->uuid) >=
	    sizeof(r->path))
		return -ENAMETOOLONG;
	/* Never over another call's file, never through a link someone planted. */
	fd = open(r->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if ((rc = wav_writer_fdopen(&r->ww, fd, rate, 2)) < 0) {
		unlink(r->path);
		return rc;
	}
	/* About a second of stereo per write(): no wake-ups of its own, few syscalls. */
	setvbuf(r->ww.fp, NULL, _IOFBF, (size_t)rate * 4);
	return 0;
}

int wrk_record_open(struct wrk_record **out, const char *dir, const char *uuid, int rate)
{
	struct wrk_record *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	*out = NULL;
	if (!r)
		goto fail;
	snprintf(r->uuid, sizeof(r->uuid), "%s", uuid);
	r->cap = (size_t)rate;		/* one second */
	r->side[0].s = malloc(r->cap * sizeof(int16_t));
	r->side[1].s = malloc(r->cap * sizeof(int16_t));
	if (!r->side[0].s || !r->side[1].s)
		goto fail;
	if ((rc = open_file(r, dir, rate)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	log_warn("rec", uuid, "not recorded in %s: %s", dir, strerror(-rc));
	if (r) {
		free(r->side[0].s);
		free(r->side[1].s);
	}
	free(r);
	return rc;
}

void wrk_record_close(struct wrk_record *r)
{
	int rc;

	if (!r)
		return;
	if (!r->failed) {
		pair(r);
		flush_alone(r, 0);	/* at most one of them still holds samples */
		flush_alone(r, 1);
	}
	if (!r->failed && (rc = wav_writer_close(&r->ww)) < 0)
		log_warn("rec", r->uuid, "recording %s not finished: %s", r->path, strerror(-rc));
	free(r->side[0].s);
	free(r->side[1].s);
	free(r);
}

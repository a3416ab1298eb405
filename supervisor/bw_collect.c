/*
 * bw_collect.c - the booking-writer's journal thread.
 *
 * One pass: read every queue's published records (up to batch_max), encode
 * them as journal records into one buffer, write it, fdatasync once, and
 * only then release the queues' space and mark the records journaled.
 * Records that arrive during the fsync wait for the next pass, which takes
 * them all at once: that is the group commit.
 *
 * A queue whose bytes are not records (a worker scribbled on it before it
 * died) has its remaining bytes dead-lettered and is reset; what came
 * before the damage is journaled normally.
 *
 * An fsync failure is fatal to the process: after it the page cache may
 * have dropped our data, and only a fresh start that re-reads the journal
 * knows what is really on disk (PostgreSQL learned this the hard way).
 */
#include "bw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/vg_time.h"

#define BATCH_BYTES (8u << 20)
#define IDLE_WAIT_MS 500

static int batch_reserve(struct bw *w, size_t more)
{
	if (w->batch_len + more <= w->batch_cap)
		return 0;
	size_t cap = w->batch_cap ? w->batch_cap : 1 << 16;
	while (cap < w->batch_len + more)
		cap *= 2;
	uint8_t *p = realloc(w->batch, cap);
	if (!p)
		return -ENOMEM;
	w->batch = p;
	w->batch_cap = cap;
	return 0;
}

/* Appends queue i's published records to the batch. */
static void collect_queue(struct bw *w, uint32_t i)
{
	struct recq *q = shm_recq(&w->shm, i);
	struct bw_touched *t = &w->touched[i];
	struct recq_rec rec;
	int rc;

	t->pos = recq_tail(q);
	t->any = t->corrupt = false;
	while (w->batch_records < (size_t)w->conf->writer_batch_max &&
	       w->batch_len < BATCH_BYTES &&
	       (rc = recq_read(q, &t->pos, &rec, w->payload, JREC_MAX_PAYLOAD)) != 0) {
		if (rc < 0) {
			t->corrupt = true;
			break;
		}
		struct jrec jr = { .len = rec.len, .producer = (uint16_t)i, .type = rec.type,
				   .version = rec.version, .seq = rec.seq, .epoch = w->epoch };
		if (batch_reserve(w, JREC_HDR_LEN + rec.len) < 0)
			panic("writer: out of memory for a %u-byte record", rec.len);
		w->batch_len += jrec_encode(w->batch + w->batch_len, &jr, w->payload);
		w->batch_records++;
		t->last_seq = rec.seq;
		t->any = true;
	}
}

/* Dead-letters what a corrupt queue holds from pos on, then resets it. */
static void condemn_queue(struct bw *w, uint32_t i, uint64_t pos)
{
	struct recq *q = shm_recq(&w->shm, i);
	uint64_t head = recq_head(q), n = head - pos;
	uint8_t *raw = NULL;

	if (n <= q->cap && (raw = malloc(n ? n : 1)))
		for (uint64_t k = 0; k < n; k++)
			raw[k] = ((const uint8_t *)(q + 1))[(pos + k) & q->mask];
	log_error("writer", NULL, "queue %u is corrupt at byte %llu: %llu byte(s) to the "
		  "dead-letter file", i, (unsigned long long)pos, (unsigned long long)n);
	dead_letter(w->conf->journal_dir, "corrupt record queue", (int)i, 0, raw,
		    raw ? n : 0);
	free(raw);
	recq_skip_all(q);
	atomic_fetch_add(&w->hdr->writer.dead_total, 1);
}

/* Writes and syncs the batch, then acknowledges it. */
static void commit_batch(struct bw *w)
{
	int64_t t0 = mono_ns();
	int rc = journal_append(&w->j, w->batch, w->batch_len);

	if (rc == 0)
		rc = journal_sync(&w->j);
	if (rc < 0)
		fatal("writer: journal %s: %s; restarting to re-read what is on disk",
		      w->j.dir, strerror(-rc));
	hist_add(&w->hdr->writer.fsync, (uint64_t)(mono_ns() - t0) / 1000);
	for (uint32_t i = 0; i < w->hdr->nregions; i++) {
		struct bw_touched *t = &w->touched[i];
		if (t->any)
			recq_release(shm_recq(&w->shm, i), t->pos, t->last_seq);
		if (t->corrupt)
			condemn_queue(w, i, t->pos);
	}
	atomic_fetch_add(&w->hdr->writer.journaled_total, w->batch_records);
	atomic_fetch_add(&w->hdr->writer.backlog, w->batch_records);
	if ((rc = journal_rotate(&w->j)) < 0)
		fatal("writer: new journal segment in %s: %s", w->j.dir, strerror(-rc));
	atomic_store(&w->hdr->writer.journal_bytes, w->j.size);
	pthread_mutex_lock(&w->mu);
	w->durable = journal_end(&w->j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

/* One pass over every queue; returns the records journaled. */
static size_t pass(struct bw *w)
{
	bool corrupt = false;

	w->batch_len = w->batch_records = 0;
	for (uint32_t i = 0; i < w->hdr->nregions; i++) {
		collect_queue(w, i);
		corrupt |= w->touched[i].corrupt;
	}
	if (w->batch_records || corrupt)
		commit_batch(w);
	return w->batch_records;
}

void bw_collect_loop(struct bw *w)
{
	for (;;) {
		bool last = atomic_load(&w->stopping);
		uint32_t seen = bell_seen(w->bell);
		if (pass(w))
			continue;	/* more may have come during the fsync */
		if (last)
			return;		/* stop was asked before this empty pass */
		bell_arm(w->bell);
		bell_wait(w->bell, seen, IDLE_WAIT_MS);
		bell_disarm(w->bell);
	}
}

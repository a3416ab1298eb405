/*
 * bw_collect.c - the booking-writer's journal thread.
 *
 * One pass: read every queue's published records (up to batch_max), encode
 * them as journal records into one buffer, write it, fdatasync once, and
 * only then release the queues' space and mark the records journaled.
 * Records that arrive during the fsync wait for the next pass, which takes
 * them all at once: that is the group commit.
 *
 * Each pass starts at the next queue and takes at most a quarter of
 * batch_max from any one queue, so a producer that keeps its queue full
 * (a runaway or a compromised worker) cannot starve the others.
 *
 * A queue whose bytes are not records (a worker scribbled on it) is
 * condemned: what came before the damage is journaled normally, the unread
 * bytes go to the dead-letter file once, and the queue is not read again
 * until the supervisor has killed its producer and reset it (recq.h says
 * why nothing in a queue is trusted, and what a worker can still do).
 *
 * An fsync failure is fatal to the process: after it the page cache may
 * have dropped our data, and only a fresh start that re-reads the journal
 * knows what is really on disk (PostgreSQL learned this the hard way).
 */
#include "bw.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/vg_time.h"

#define BATCH_BYTES (8u << 20)
/* A pass stops taking records at BATCH_BYTES, so one that starts below it fits. */
#define BATCH_CEILING (BATCH_BYTES + JREC_HDR_LEN + JREC_MAX_PAYLOAD)
#define IDLE_WAIT_MS 500
/* A condemned queue whose reset came (or was faked) is read again after this. */
#define CONDEMN_RETRY_NS NS_PER_S

/* A condemned queue: true once the supervisor has reset it and we may read it. */
static bool reset_yet(struct bw *w, uint32_t i)
{
	struct bw_queue *t = &w->queues[i];

	if (!recq_reset_done(t->q, t->req) || mono_ns() - t->condemned_ns < CONDEMN_RETRY_NS) {
		t->req = recq_condemn(t->q);	/* again: its producer may have cleared it */
		return false;
	}
	t->condemned = false;
	t->pos = recq_tail(t->q);
	t->expect = 0;
	log_info("writer", NULL, "queue %u was reset; reading it again", i);
	return true;
}

/* Appends queue i's published records to the batch. */
static void collect_queue(struct bw *w, uint32_t i, size_t quota)
{
	struct bw_queue *t = &w->queues[i];
	struct recq_rec rec;
	size_t taken = 0;
	int rc = 0;

	t->any = false;
	t->corrupt = NULL;
	if (t->condemned && !reset_yet(w, i))
		return;
	if (recq_check(t->q, w->recq_cap, i) < 0) {
		t->corrupt = "its size, mask or index was overwritten";
		return;
	}
	while (taken < quota && w->batch_records < (size_t)w->conf->writer_batch_max &&
	       w->batch.len < BATCH_BYTES &&
	       (rc = recq_read(t->q, w->recq_cap, &t->pos, &t->expect, &rec, w->payload,
			       JREC_MAX_PAYLOAD)) > 0) {
		struct jrec jr = { .len = rec.len, .producer = (uint16_t)i, .type = rec.type,
				   .version = rec.version, .seq = rec.seq, .epoch = w->epoch };
		uint8_t *tail;
		int err = buf_reserve(&w->batch, JREC_HDR_LEN + rec.len, &tail);
		if (err < 0)
			panic("writer: no room for a %u-byte record: %s", rec.len, strerror(-err));
		buf_commit(&w->batch, jrec_encode(tail, &jr, w->payload));
		w->batch_records++;
		taken++;
		t->last_seq = rec.seq;
		t->any = true;
	}
	if (rc < 0)
		t->corrupt = "bytes that are not a record, or a record out of sequence";
}

/* Dead-letters what a corrupt queue holds from pos on and asks for its reset. */
static void condemn_queue(struct bw *w, uint32_t i)
{
	struct bw_queue *t = &w->queues[i];
	size_t n = recq_copy_raw(t->q, w->recq_cap, t->pos, w->raw);

	log_error("writer", NULL, "queue %u is corrupt at byte %llu (%s): %zu byte(s) to the "
		  "dead-letter file; not read again until the supervisor has killed its "
		  "producer and reset it", i, (unsigned long long)t->pos, t->corrupt, n);
	dead_letter(w->conf->journal_dir, "corrupt record queue", (int)i, 0, w->raw, n);
	atomic_fetch_add(&w->stats->dead_total, 1);
	t->condemned = true;
	t->condemned_ns = mono_ns();
	t->req = recq_condemn(t->q);
}

/* Writes and syncs the batch, then acknowledges it. */
static void commit_batch(struct bw *w)
{
	int64_t t0 = mono_ns();
	int rc = journal_append(&w->j, w->batch.data, w->batch.len);

	if (rc == 0)
		rc = journal_sync(&w->j);
	if (rc < 0)
		fatal("writer: journal %s: %s; restarting to re-read what is on disk",
		      w->j.dir, strerror(-rc));
	hist_add(&w->stats->fsync, (uint64_t)(mono_ns() - t0) / 1000);
	for (uint32_t i = 0; i < w->nregions; i++) {
		struct bw_queue *t = &w->queues[i];
		if (t->any)
			recq_release(t->q, t->pos, t->last_seq);
		if (t->corrupt)
			condemn_queue(w, i);
	}
	atomic_fetch_add(&w->stats->journaled_total, w->batch_records);
	atomic_fetch_add(&w->stats->backlog, w->batch_records);
	if ((rc = journal_rotate(&w->j)) < 0)
		fatal("writer: new journal segment in %s: %s", w->j.dir, strerror(-rc));
	atomic_store(&w->stats->journal_bytes, w->j.size);
	pthread_mutex_lock(&w->mu);
	w->durable = journal_end(&w->j);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

/* One pass over every queue, each its turn first; returns the records journaled. */
static size_t pass(struct bw *w)
{
	size_t quota = (size_t)w->conf->writer_batch_max / 4;
	bool corrupt = false;

	buf_reset(&w->batch);
	w->batch_records = 0;
	for (uint32_t k = 0; k < w->nregions; k++) {
		uint32_t i = (w->first + k) % w->nregions;
		collect_queue(w, i, quota ? quota : 1);
		corrupt |= w->queues[i].corrupt != NULL;
	}
	w->first = (w->first + 1) % w->nregions;
	if (w->batch_records || corrupt)
		commit_batch(w);
	return w->batch_records;
}

void bw_collect_loop(struct bw *w)
{
	buf_init(&w->batch, BATCH_CEILING);
	for (;;) {
		bool last = atomic_load(&w->stopping);
		uint32_t seen = bell_seen(w->bell);
		if (pass(w))
			continue;	/* more may have come during the fsync */
		if (last)
			break;		/* stop was asked before this empty pass */
		bell_arm(w->bell);
		bell_wait(w->bell, seen, IDLE_WAIT_MS);
		bell_disarm(w->bell);
	}
	buf_free(&w->batch);
}

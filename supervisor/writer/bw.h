/*
 * bw.h - the booking-writer process: one context, three threads.
 *
 * The writer drains every producer's record queue in shared memory,
 * appends the records to its journal and fsyncs once per batch (group
 * commit), acknowledges them as journaled, and then inserts them into
 * MariaDB idempotently, acknowledging each as committed with its row id.
 * A dead database delays commits and never loses or blocks journaling;
 * a dead writer loses nothing (the queues keep what was not journaled,
 * the journal keeps what was not committed).
 *
 * Threads: the journal thread (bw_collect.c) owns the queues' consumer
 * side and the journal's newest segment; the database thread (bw_db.c)
 * reads the journal behind it and owns MariaDB, the applied marker and old
 * segments; the signal thread (bw_main.c) turns SIGTERM into a stop
 * request and SIGUSR1 into a log reopen. They share only the fields under
 * mu and the atomics below.
 *
 * Modules: bw_main.c (start-up, signals, shutdown), bw_collect.c (the
 * journal thread), bw_db.c (the database thread), bw_rows.c (its
 * multi-row booking INSERT), bw_journal.c (journal
 * segments, the applied marker, dead letters), bw_jscan.c (finding whole
 * records in damaged journal bytes).
 */
#ifndef VG_BW_H
#define VG_BW_H

#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../../ipc/shm.h"
#include "bw_journal.h"
#include "bw_rows.h"
#include "bw_stats.h"

struct conf;

/*
 * The journal thread's private state of one queue. Nothing here is read
 * back from the queue's region, which its producer can write.
 */
struct bw_queue {
	struct recq *q;
	uint64_t pos;		/* where the next record starts: the writer's own */
	uint64_t expect;	/* the seq the next record must carry (0: any) */
	uint64_t last_seq;	/* of the batch being journaled */
	bool any;		/* records of this queue in the batch */
	const char *corrupt;	/* found during this pass: what is wrong */
	bool condemned;		/* not read until the supervisor resets it */
	uint32_t req;		/* the reset we wait for */
	int64_t condemned_ns;
};

struct bw {
	const struct conf *conf;
	struct shm_map shm;		/* the whole segment, read-write */
	struct shm_header *hdr;
	struct bell *bell;
	struct bw_stats *stats;		/* this process's section: only it writes there */
	/* The layout, copied from the header once and checked against the mapping. */
	struct shm_header layout;
	uint32_t nregions, recq_cap;
	uint64_t epoch;			/* this daemon instance: the segment's birth */
	_Atomic bool stopping;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct jpos durable;		/* under mu: all before it is fsync'd */

	/* Journal thread. */
	struct journal j;
	struct buf batch;		/* this pass's journal records (bw_collect.c's) */
	size_t batch_records;
	uint8_t *payload;
	uint8_t *raw;			/* recq_cap bytes: a corrupt queue's evidence */
	struct bw_queue *queues;	/* per region */
	uint32_t first;			/* where the next pass starts: each queue its turn */

	/* Database thread. */
	MYSQL *db;
	MYSQL_STMT *st_call, *st_doppia;
	struct bw_rows rows;		/* the booking INSERTs (bw_rows.c) */
	int backoff_ms;
	bool db_logged_down;
	bool refusing;			/* MariaDB refuses writes: db_up stays 0 until one lands */
	bool refusal_logged;		/* once per outage */
};

/* bw_main.c: region i's queue, from the private copy of the layout. */
struct recq *bw_recq(const struct bw *w, uint32_t i);

/* bw_collect.c: the journal thread's loop; returns when stopping and drained. */
void bw_collect_loop(struct bw *w);

/* bw_db.c: the database thread. */
void *bw_db_thread(void *arg);

/* bw_main.c: entry from the supervisor's fork; never returns. */
void writer_main(const struct conf *c, int shm_fd, void *segment, size_t size)
	__attribute__((noreturn));

#endif

/*
 * bw_db.c - the booking-writer's database thread: journal -> MariaDB.
 *
 * Reads the journal from the applied marker up to what the journal thread
 * has made durable, a batch at a time, and applies each batch in one
 * transaction with prepared statements: bookings many rows a statement
 * (bw_rows.c), call ends one a statement. Every insert is idempotent, so a
 * batch applied twice (a crash before the marker moved, a retry after a
 * lost connection) changes nothing the second time:
 *   booking  - unique booking_ref; a repeat returns the existing row's id;
 *   call_end - unique call uuid; doppia_calls is counted only when the
 *              calls row is new, in the same transaction.
 *
 * Errors (db_classify, the one rule in common/db.c): only an error that
 * judges one record's values (too long, out of range, a CHECK) is blamed on
 * that record: roll back, dead-letter it, apply the batch again without it
 * (an error of a multi-row statement names no row: the batch is applied
 * again one booking a statement to find it).
 * Anything else - a lost connection, a deadlock, a read-only server during
 * a switchover, a revoked grant, a missing table, a full disk, an error we
 * do not know, any failure of COMMIT itself - is nobody's record's fault:
 * roll back, drop the connection, set db_up to 0, log it once per outage,
 * and retry the same batch after a growing backoff for as long as it takes.
 * The journal keeps every record meanwhile and the journal thread goes on
 * journaling; db_up says 1 again only once a batch has landed.
 */
#include "bw.h"

#include <errno.h>
#include <errmsg.h>
#include <fcntl.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/conf.h"
#include "../../common/booking/db.h"
#include "../../common/log.h"
#include "../../common/booking/record.h"
#include "../../common/vg_time.h"

#define READ_CHUNK (JREC_HDR_LEN + JREC_MAX_PAYLOAD + (4u << 20))
#define STOP_GRACE_NS (10 * NS_PER_S)

static const char SQL_CALL[] =
	"INSERT INTO calls (uuid, did, cli, engine, started_at, ended_at, outcome, turn_count, "
	"barge_ins, latency, transcript, recording_path) VALUES (?, ?, ?, ?, "
	"FROM_UNIXTIME(? / 1000), FROM_UNIXTIME(? / 1000), ?, COALESCE(?, 0), COALESCE(?, 0), "
	"?, ?, ?) "
	"ON DUPLICATE KEY UPDATE uuid = uuid";

static const char SQL_DOPPIA[] =
	"INSERT INTO doppia_calls (phone_number, did, last_call_time, call_count) VALUES "
	"(?, ?, FROM_UNIXTIME(? / 1000), 1) ON DUPLICATE KEY UPDATE "
	"call_count = call_count + 1, last_call_time = GREATEST(last_call_time, "
	"VALUES(last_call_time))";

/* One journal record of the batch, decoded. */
struct item {
	struct jrec jr;
	msgpack_unpacked up;
	struct rec_val vals[REC_MAX_FIELDS];
	int64_t id;		/* row id after apply; -1 dead-lettered */
	bool dead;
	const uint8_t *raw;	/* the payload, in the read buffer */
};

struct batch {
	uint8_t *buf;		/* journal bytes read */
	struct buf items;	/* struct item[n]; jscan_walk bounds n at writer_batch_max */
	size_t n;
	struct jpos end;	/* where the next batch starts */
	bool seg_done;		/* the segment has nothing more */
	bool loaded;		/* read and not yet applied: a retry keeps it, so what
				   was dead-lettered while loading is not again */
	bool one_by_one;	/* a multi-row INSERT failed for some row's values:
				   this batch's bookings go one a statement, to find it */
};

/* ---- connection ---- */

static void db_drop(struct bw *w)
{
	bw_rows_close(&w->rows);
	if (w->st_call) mysql_stmt_close(w->st_call);
	if (w->st_doppia) mysql_stmt_close(w->st_doppia);
	w->st_call = w->st_doppia = NULL;
	db_close(w->db);
	w->db = NULL;
	atomic_store(&w->stats->db_up, 0);
}

static MYSQL_STMT *prepare(MYSQL *db, const char *sql, char *err, size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(db);

	if (st && mysql_stmt_prepare(st, sql, strlen(sql)) == 0)
		return st;
	snprintf(err, errlen, "prepare: error %u: %s", st ? mysql_stmt_errno(st) : mysql_errno(db),
		 st ? mysql_stmt_error(st) : mysql_error(db));
	if (st)
		mysql_stmt_close(st);
	return NULL;
}

static int db_up(struct bw *w)
{
	char err[512];

	if (w->db)
		return 0;
	if (db_connect(w->conf, &w->db, err, sizeof(err)) == 0 &&
	    mysql_autocommit(w->db, 0) == 0 &&
	    (w->st_call = prepare(w->db, SQL_CALL, err, sizeof(err))) &&
	    (w->st_doppia = prepare(w->db, SQL_DOPPIA, err, sizeof(err)))) {
		if (w->refusing)
			return 0;	/* connected, but db_up waits for a batch to land */
		log_info("writer", NULL, "MariaDB is up: catching up %llu record(s)",
			 (unsigned long long)atomic_load(&w->stats->backlog));
		atomic_store(&w->stats->db_up, 1);
		w->db_logged_down = false;
		w->backoff_ms = 0;
		return 0;
	}
	if (!w->db_logged_down)	/* once per outage, not once per retry */
		log_error("writer", NULL, "MariaDB unreachable (%s); journaling goes on, "
			  "%llu record(s) wait and are retried", err,
			  (unsigned long long)atomic_load(&w->stats->backlog));
	w->db_logged_down = true;
	db_drop(w);
	return -EAGAIN;
}

/* Sleeps the backoff, waking early for a stop. */
static void backoff(struct bw *w)
{
	struct timespec ts;

	w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 100;
	if (w->backoff_ms > w->conf->writer_retry_max_ms)
		w->backoff_ms = w->conf->writer_retry_max_ms;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += w->backoff_ms / 1000;
	ts.tv_nsec += (long)(w->backoff_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	if (!atomic_load(&w->stopping))
		pthread_cond_timedwait(&w->cond, &w->mu, &ts);
	pthread_mutex_unlock(&w->mu);
}

/* ---- binding ---- */

/* Executes st with fields idx[0..n) of vals. 0 or the MariaDB errno (why: its text). */
static unsigned exec(MYSQL_STMT *st, uint8_t type, const struct rec_val *vals,
		     const int *idx, int n, char *why, size_t whylen)
{
	size_t nf;
	const struct rec_fdef *f = record_fields(type, &nf);
	MYSQL_BIND b[REC_MAX_FIELDS];
	unsigned long len[REC_MAX_FIELDS];
	my_bool nul[REC_MAX_FIELDS];

	for (int k = 0; k < n; k++)
		bw_bind_val(&b[k], &vals[idx[k]], f[idx[k]].type, &len[k], &nul[k]);
	if (mysql_stmt_bind_param(st, b) || mysql_stmt_execute(st)) {
		unsigned e = mysql_stmt_errno(st);
		snprintf(why, whylen, "error %u: %s", e, mysql_stmt_error(st));
		return e ? e : CR_UNKNOWN_ERROR;	/* never 0 for a failure */
	}
	return 0;
}

static unsigned apply_call_end(struct bw *w, struct item *it, char *why, size_t whylen)
{
	static const int idx[] = {
		CE_UUID, CE_DID, CE_CLI, CE_ENGINE, CE_START_MS, CE_END_MS, CE_OUTCOME,
		CE_TURNS, CE_BARGE_INS, CE_LATENCY, CE_TRANSCRIPT, CE_RECORDING,
	};
	static const int didx[] = { CE_CLI, CE_DID, CE_END_MS };
	const struct rec_val *v = it->vals;
	unsigned e = exec(w->st_call, REC_CALL_END, v, idx, CE_NFIELDS, why, whylen);

	it->id = 0;
	if (e || mysql_stmt_affected_rows(w->st_call) != 1)
		return e;	/* error, or this call was applied before */
	if (v[CE_CLI].present && v[CE_CLI].len && v[CE_DID].present && v[CE_DID].len)
		e = exec(w->st_doppia, REC_CALL_END, v, didx, 3, why, whylen);
	return e;
}

/* ---- reading the journal ---- */

static void item_dead(struct bw *w, struct item *it, const char *why)
{
	log_warn("writer", NULL, "record %u/%llu to the dead-letter file: %s",
		 it->jr.producer, (unsigned long long)it->jr.seq, why);
	dead_letter(w->conf->journal_dir, why, it->jr.producer, it->jr.seq, it->raw,
		    it->jr.len);
	it->dead = true;
	it->id = -1;
	atomic_fetch_add(&w->stats->dead_total, 1);
}

static struct item *item_at(struct batch *b, size_t i)
{
	return (struct item *)(void *)b->items.data + i;
}

static void batch_clear(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		msgpack_unpacked_destroy(&item_at(b, i)->up);
	buf_reset(&b->items);
	b->n = 0;
}

static struct item *batch_add(struct batch *b)
{
	uint8_t *tail;

	if (buf_reserve(&b->items, sizeof(struct item), &tail) < 0)
		return NULL;
	buf_commit(&b->items, sizeof(struct item));
	b->n++;
	struct item *it = (struct item *)(void *)tail;
	memset(it, 0, sizeof(*it));
	msgpack_unpacked_init(&it->up);
	return it;
}

struct load {
	struct bw *w;
	struct batch *b;
	struct jpos from;
};

/* jscan_walk: one whole record; decoded, or dead-lettered if it is not one. */
static int load_record(void *arg, size_t off, const struct jrec *r)
{
	struct load *l = arg;
	struct item *it = batch_add(l->b);
	char why[256];

	if (!it)
		return -ENOMEM;
	it->jr = *r;
	it->raw = l->b->buf + off + JREC_HDR_LEN;
	if (record_decode(r->type, r->version, it->raw, r->len, &it->up, it->vals, why,
			  sizeof(why)) < 0)
		item_dead(l->w, it, why);
	return 0;
}

/* jscan_walk: bytes that are not records, up to the next whole one. */
static void load_corrupt(void *arg, size_t off, size_t len)
{
	struct load *l = arg;

	log_error("writer", NULL, "journal segment %llu: %zu corrupt byte(s) at %llu to the "
		  "dead-letter file", (unsigned long long)l->from.seg, len,
		  (unsigned long long)(l->from.off + off));
	dead_letter(l->w->conf->journal_dir, "corrupt journal bytes", -1, 0, l->b->buf + off, len);
	atomic_fetch_add(&l->w->stats->dead_total, 1);
}

/*
 * Reads up to batch_max records from `from`, stopping at `limit` (the end
 * of a closed segment, or what the journal thread has made durable). A
 * record cut by this read is read again from its start with the next one,
 * unless the read reached the limit: then it is damage (jscan_walk), so the
 * position always moves forward.
 */
static int batch_load(struct bw *w, struct batch *b, int fd, struct jpos from,
		      struct jpos limit)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint64_t stop = from.seg < limit.seg ? (uint64_t)size : limit.off;
	size_t want = stop <= from.off ? 0 : stop - from.off < READ_CHUNK ? stop - from.off :
		      READ_CHUNK;
	ssize_t got = want ? pread(fd, b->buf, want, (off_t)from.off) : 0;
	struct load l = { w, b, from };
	struct jwalk_ops ops = { &l, load_record, load_corrupt };

	if (got < 0)
		return -errno;
	long off = jscan_walk(b->buf, (size_t)got, from.off + (uint64_t)got >= stop,
			      (size_t)w->conf->writer_batch_max, &ops);
	if (off < 0)
		return (int)off;
	b->end = from;
	b->end.off = from.off + (uint64_t)off;
	b->seg_done = from.seg < limit.seg && b->end.off >= (uint64_t)size;
	return 0;
}

/* ---- applying ---- */

/*
 * MariaDB failed the batch for a reason that is no record's: everything
 * stays journaled, db_up says 0, and the batch is retried after a backoff.
 * Logged once per outage, not once per retry.
 */
static void refused(struct bw *w, unsigned e, const char *why)
{
	if (!w->refusal_logged)
		log_error("writer", NULL, "MariaDB %s the batch (%s); not the records' fault: "
			  "%llu record(s) stay journaled and are retried until it takes them",
			  db_classify(e) == DB_TRANSIENT ? "failed" : "refuses", why,
			  (unsigned long long)atomic_load(&w->stats->backlog));
	w->refusal_logged = true;
	w->refusing = true;
	db_drop(w);
}

/* A batch landed: whatever outage there was is over. */
static void accepted(struct bw *w)
{
	if (w->refusing)
		log_info("writer", NULL, "MariaDB is up: catching up %llu record(s); it takes "
			 "writes again", (unsigned long long)atomic_load(&w->stats->backlog));
	w->refusing = w->refusal_logged = false;
	w->db_logged_down = false;
	w->backoff_ms = 0;
	atomic_store(&w->stats->db_up, 1);
}

/* Inserts the n bookings gathered in p; on failure *culprit is the one (n == 1). */
static unsigned flush_bookings(struct bw *w, struct item **p, size_t *n,
			       struct item **culprit, char *why, size_t whylen)
{
	struct bw_row rows[BW_ROWS_MAX];
	unsigned e;

	if (!*n)
		return 0;
	for (size_t i = 0; i < *n; i++)
		rows[i] = (struct bw_row){ .vals = p[i]->vals };
	e = bw_rows_insert(&w->rows, w->db, rows, *n, why, whylen);
	for (size_t i = 0; i < *n; i++)
		p[i]->id = rows[i].id;
	*culprit = e && *n == 1 ? p[0] : NULL;
	*n = 0;
	return e;
}

/*
 * One transaction: bookings BW_ROWS_MAX a statement (one_by_one: one),
 * call ends one a statement. 0; -EAGAIN to retry later; -ERESTART after
 * dead-lettering one record, or to go one by one and find it.
 */
static int apply(struct bw *w, struct batch *b)
{
	char why[512] = "", dead[600];
	unsigned e = 0;
	struct item *culprit = NULL, *pend[BW_ROWS_MAX];
	size_t live = 0, np = 0, per = b->one_by_one ? 1 : BW_ROWS_MAX;

	for (size_t i = 0; i < b->n; i++)
		live += !item_at(b, i)->dead;
	if (!live)
		return 0;	/* nothing to write says nothing about MariaDB */
	for (size_t i = 0; i < b->n && !e; i++) {
		struct item *it = item_at(b, i);
		if (it->dead)
			continue;
		if (it->jr.type == REC_BOOKING) {
			pend[np++] = it;
			if (np == per)
				e = flush_bookings(w, pend, &np, &culprit, why, sizeof(why));
			continue;
		}
		e = apply_call_end(w, it, why, sizeof(why));
		culprit = e ? it : NULL;
	}
	if (!e)
		e = flush_bookings(w, pend, &np, &culprit, why, sizeof(why));
	if (!e && mysql_commit(w->db)) {	/* a failed COMMIT is never one record's */
		e = mysql_errno(w->db) ? mysql_errno(w->db) : CR_SERVER_LOST;
		snprintf(why, sizeof(why), "error %u at COMMIT: %s", e, mysql_error(w->db));
		culprit = NULL;
	}
	if (!e) {
		accepted(w);
		return 0;
	}
	mysql_rollback(w->db);
	if (db_classify(e) == DB_ROW && culprit) {
		snprintf(dead, sizeof(dead), "MariaDB refused it: %s", why);
		item_dead(w, culprit, dead);
		return -ERESTART;	/* at most once per record of the batch */
	}
	if (db_classify(e) == DB_ROW && !b->one_by_one) {
		b->one_by_one = true;	/* once per batch */
		return -ERESTART;
	}
	refused(w, e, why);
	return -EAGAIN;
}

/* Tells producers of this daemon instance where their records went. */
static void acknowledge(struct bw *w, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct item *it = item_at(b, i);
		if (it->jr.epoch == w->epoch && it->jr.producer < w->nregions)
			recq_commit(bw_recq(w, it->jr.producer), it->jr.seq, it->id);
		if (!it->dead)
			atomic_fetch_add(&w->stats->committed_total, 1);
	}
	atomic_fetch_sub(&w->stats->backlog, b->n <= atomic_load(&w->stats->backlog) ?
			 b->n : atomic_load(&w->stats->backlog));
}

static int open_segment(struct bw *w, uint64_t seg)
{
	char path[PATH_MAX + 32];

	journal_seg_path(path, sizeof(path), w->conf->journal_dir, seg);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* After a segment is applied to its end: remove it, move to the next. */
static int next_segment(struct bw *w, int fd, struct jpos *applied)
{
	char path[PATH_MAX + 32];

	close(fd);
	journal_seg_path(path, sizeof(path), w->conf->journal_dir, applied->seg);
	applied->seg++;
	applied->off = 0;
	marker_store(w->conf->journal_dir, *applied);
	if (unlink(path) < 0)
		log_warn("writer", NULL, "%s: %s", path, strerror(errno));
	return open_segment(w, applied->seg);
}

/* ---- the thread ---- */

#define IDLE_PING_NS (5 * NS_PER_S)

/*
 * While there is nothing to apply: keep a connection (so db_up, which
 * /healthz and the metrics report, says what is true now) and notice a
 * database that went away, at most every few seconds.
 */
static void idle_check(struct bw *w, int64_t *next_ns)
{
	int64_t now = mono_ns();

	if (now < *next_ns)
		return;
	if (w->db && mysql_ping(w->db) != 0) {
		log_error("writer", NULL, "MariaDB connection lost: %s", mysql_error(w->db));
		w->db_logged_down = false;
		db_drop(w);
	}
	if (!w->db && db_up(w) < 0) {
		w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 100;
		if (w->backoff_ms > w->conf->writer_retry_max_ms)
			w->backoff_ms = w->conf->writer_retry_max_ms;
		*next_ns = now + w->backoff_ms * NS_PER_MS;
		return;
	}
	*next_ns = now + IDLE_PING_NS;
}

static bool caught_up(struct jpos a, struct jpos d)
{
	return a.seg == d.seg && a.off >= d.off;
}

/* Waits (up to a second) for journaled records; true if there are some. */
static bool wait_work(struct bw *w, struct jpos applied, struct jpos *durable)
{
	struct timespec ts;

	pthread_mutex_lock(&w->mu);
	if (caught_up(applied, w->durable) && !atomic_load(&w->stopping)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;	/* at most a second: the caller has idle work too */
		pthread_cond_timedwait(&w->cond, &w->mu, &ts);
	}
	*durable = w->durable;
	pthread_mutex_unlock(&w->mu);
	return !caught_up(applied, *durable);
}

/*
 * One batch: load (once: a retry applies the same items), apply
 * (dead-lettering only what MariaDB refuses for its values), acknowledge.
 */
static int step(struct bw *w, struct batch *b, int fd, struct jpos applied,
		struct jpos durable)
{
	int rc;

	if (!b->loaded) {
		batch_clear(b);
		b->one_by_one = false;
		if ((rc = batch_load(w, b, fd, applied, durable)) < 0) {
			log_error("writer", NULL, "reading the journal: %s", strerror(-rc));
			return -EAGAIN;
		}
		b->loaded = true;
	}
	if (b->n) {
		int64_t t0 = mono_ns();
		while ((rc = apply(w, b)) == -ERESTART)
			;
		if (rc < 0)
			return rc;
		hist_add(&w->stats->commit, (uint64_t)(mono_ns() - t0) / 1000);
		acknowledge(w, b);
	}
	b->loaded = false;
	return 0;
}

void *bw_db_thread(void *arg)
{
	struct bw *w = arg;
	struct batch b = { .buf = malloc(READ_CHUNK) };
	struct jpos applied, durable;
	int64_t deadline = 0;

	if (!b.buf)
		panic("writer: no memory for the journal reader");
	buf_init(&b.items, 0);
	if (bw_rows_init(&w->rows) < 0)
		panic("writer: no memory for the booking statements");
	marker_load(w->conf->journal_dir, &applied);
	int fd = open_segment(w, applied.seg);
	if (fd < 0) {	/* marker older than the oldest segment: start there */
		applied.seg = journal_oldest(w->conf->journal_dir);
		applied.off = 0;
		fd = open_segment(w, applied.seg);
	}
	int64_t next_check = 0;

	idle_check(w, &next_check);
	while (wait_work(w, applied, &durable) || !atomic_load(&w->stopping)) {
		if (caught_up(applied, durable)) {
			idle_check(w, &next_check);
			continue;
		}
		if (atomic_load(&w->stopping)) {
			deadline = deadline ? deadline : mono_ns() + STOP_GRACE_NS;
			if (mono_ns() > deadline || !w->db)
				break;	/* the journal keeps the rest for the next start */
		}
		if (db_up(w) < 0 || step(w, &b, fd, applied, durable) < 0) {
			if (atomic_load(&w->stopping))
				break;
			backoff(w);
			continue;
		}
		applied = b.end;
		marker_store(w->conf->journal_dir, applied);
		if (b.seg_done)
			fd = next_segment(w, fd, &applied);
	}
	batch_clear(&b);
	buf_free(&b.items);
	free(b.buf);
	if (fd >= 0)
		close(fd);
	db_drop(w);
	bw_rows_free(&w->rows);
	return NULL;
}

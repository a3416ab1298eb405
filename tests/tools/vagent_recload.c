/*
 * vagent_recload.c - vagent-recload: puts bookings into a running vagentd's
 * booking-writer from many producers at once, and measures how long each
 * takes to be journaled and committed.
 *
 * Each producer is a thread with a record queue of its own, claimed among
 * the segment's extra producer regions ([vagentd] extra_producers), so it
 * behaves exactly as a worker or the api does: encode, enqueue, ring,
 * then watch the queue's acknowledgements in shared memory.
 *
 * Used by the integration tests (exact row counts under faults) and by
 * make bench (latencies, throughput). Prints one JSON object.
 *
 * -H (hostile): plays a compromised producer instead. It claims one queue,
 * gets three bookings journaled, prints {"hostile":REGION,...}, then
 * overwrites its queue's header as a worker could (cap = mask = 0xffffffff,
 * tail and head a gigabyte on, a record header there) and waits to be
 * killed. An older writer read past its mapping at that point.
 */
#include <errno.h>
#include <signal.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../../common/booking/rec_put.h"
#include "../../common/vg_time.h"
#include "../../ipc/shm.h"

#define POLL_NS (100 * NS_PER_US)
#define CHECK_NS (200 * NS_PER_MS)	/* how often a nap asks whether vagentd lives */

enum wait_for { WAIT_NONE, WAIT_JOURNALED, WAIT_COMMITTED };

struct opts {
	char run_dir[PATH_MAX];
	int producers;
	int records;		/* per producer */
	enum wait_for wait;	/* before the next record */
	int timeout_s;
	int interval_ms;	/* pause between a producer's records */
	char tag[8];		/* per run, so refs never collide across runs */
	bool hostile;
};

struct producer {
	const struct opts *o;
	struct shm_map *shm;
	int region;
	uint64_t *seq;
	int64_t *t_put, *t_journaled, *t_committed;
	int64_t *ids;
	int done_journaled, done_committed, dead, timeouts, errors;
	int64_t last_commit_ns;
	int64_t next_check_ns;		/* nap(): when to ask whether vagentd lives */
};

static bool daemon_alive(const struct shm_map *shm)
{
	return kill(shm_hdr(shm)->master_pid, 0) == 0 || errno != ESRCH;
}

static int64_t deadline_of(const struct opts *o) { return mono_ns() + o->timeout_s * NS_PER_S; }

/*
 * Sleeps one poll interval; false once the vagentd whose segment this is
 * has gone, so that a load left behind by a killed test stops waiting
 * (and polling) instead of running out its whole timeout. It asks the
 * kernel at most every CHECK_NS: a syscall every 100 us in fifty threads
 * would be load of its own and slow the writer it measures.
 */
static bool nap(const struct shm_map *shm, int64_t *next_check_ns)
{
	struct timespec ts = { 0, POLL_NS };
	nanosleep(&ts, NULL);
	int64_t now = mono_ns();
	if (now < *next_check_ns)
		return true;
	*next_check_ns = now + CHECK_NS;
	return daemon_alive(shm);
}

/* Stamps every record whose acknowledgement has arrived since last time. */
static void harvest(struct producer *p, struct recq *q, int upto, int *jn, int *cn)
{
	int64_t now = mono_ns();

	while (*jn < upto && recq_state(q, p->seq[*jn]) >= RECQ_JOURNALED)
		p->t_journaled[(*jn)++] = now;
	while (*cn < upto && recq_state(q, p->seq[*cn]) == RECQ_COMMITTED) {
		if (recq_committed_id(q, p->seq[*cn], &p->ids[*cn]) < 0)
			p->ids[*cn] = 0;
		p->dead += p->ids[*cn] < 0;
		p->t_committed[(*cn)++] = now;
		p->last_commit_ns = now;
	}
}

static int put_one(struct producer *p, struct recq *q, struct bell *b, int i)
{
	char ref[17], name[64], err[256];
	struct rec_val v[REC_MAX_FIELDS] = { 0 };
	int64_t deadline = deadline_of(p->o);
	int rc;

	snprintf(ref, sizeof(ref), "%.6s%02X%06X", p->o->tag, p->region & 0xff, i);
	snprintf(name, sizeof(name), "Load Test %d-%d", p->region, i);
	v[BK_REF] = rec_str(ref);
	v[BK_SOURCE] = rec_str("api");
	v[BK_CREATED_MS] = rec_int(real_ns() / NS_PER_MS);
	v[BK_CUSTOMER_NAME] = rec_str(name);
	v[BK_CUSTOMER_PHONE] = rec_str("447700900123");
	v[BK_POSTCODE] = rec_str("E5 9ES");
	v[BK_ADDRESS] = rec_str("42 Amhurst Road");
	v[BK_PROBLEM] = rec_str("Leaking pipe under the kitchen sink");
	v[BK_TRADE_TYPE] = rec_str("plumbing");
	v[BK_CALLOUT_FEE] = rec_int(48);
	v[BK_DID_NUMBER] = rec_str("442039962952");
	v[BK_COMPANY_NAME] = rec_str("George The Plumber");
	while ((rc = rec_put(q, b, REC_BOOKING, v, &p->seq[i], err, sizeof(err))) == -ENOBUFS &&
	       mono_ns() < deadline)
		if (!nap(p->shm, &p->next_check_ns))	/* the writer is behind: wait as a producer would */
			break;
	if (rc < 0) {
		fprintf(stderr, "vagent-recload: producer %d: %s\n", p->region, err);
		return rc;
	}
	p->t_put[i] = mono_ns();
	return 0;
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct recq *q = shm_recq(p->shm, (uint32_t)p->region);
	struct bell *b = shm_bell(p->shm);
	int n = p->o->records, jn = 0, cn = 0;
	int64_t deadline;

	for (int i = 0; i < n; i++) {
		if (i && p->o->interval_ms) {
			struct timespec ts = { p->o->interval_ms / 1000,
					       (long)(p->o->interval_ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (put_one(p, q, b, i) < 0) {
			p->errors++;
			n = i;
			break;
		}
		deadline = deadline_of(p->o);
		for (;;) {
			harvest(p, q, i + 1, &jn, &cn);
			bool ok = p->o->wait == WAIT_NONE ||
				  (p->o->wait == WAIT_JOURNALED && jn > i) || cn > i;
			if (ok || mono_ns() > deadline) {
				p->timeouts += !ok;
				break;
			}
			if (!nap(p->shm, &p->next_check_ns)) {
				p->timeouts++;
				goto gone;
			}
		}
	}
	deadline = deadline_of(p->o);
	while ((jn < n || cn < n) && mono_ns() < deadline) {
		harvest(p, q, n, &jn, &cn);
		if (!nap(p->shm, &p->next_check_ns))
			break;
	}
gone:
	p->done_journaled = jn;
	p->done_committed = cn;
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct(int64_t *v, size_t n, double q)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t k = (size_t)(q * (double)(n - 1) + 0.5);
	return (double)v[k] / NS_PER_MS;
}

static void report(const struct opts *o, struct producer *ps, int64_t t0)
{
	size_t total = (size_t)o->producers * (size_t)o->records, nj = 0, nc = 0;
	int64_t *lj = calloc(total + 1, sizeof(int64_t)), *lc = calloc(total + 1, sizeof(int64_t));
	int64_t last = t0;
	int dead = 0, timeouts = 0, errors = 0;

	for (int k = 0; k < o->producers; k++) {
		struct producer *p = &ps[k];
		for (int i = 0; i < p->done_journaled; i++)
			lj[nj++] = p->t_journaled[i] - p->t_put[i];
		for (int i = 0; i < p->done_committed; i++)
			lc[nc++] = p->t_committed[i] - p->t_put[i];
		dead += p->dead;
		timeouts += p->timeouts;
		errors += p->errors;
		last = p->last_commit_ns > last ? p->last_commit_ns : last;
	}
	double secs = (double)(last - t0) / NS_PER_S;
	printf("{\"producers\":%d,\"records\":%zu,\"journaled\":%zu,\"committed\":%zu,"
	       "\"dead\":%d,\"timeouts\":%d,\"errors\":%d,\"journaled_p50_ms\":%.3f,"
	       "\"journaled_p99_ms\":%.3f,\"committed_p50_ms\":%.3f,\"committed_p99_ms\":%.3f,"
	       "\"committed_per_s\":%.0f,\"tag\":\"%s\"}\n",
	       o->producers, total, nj, nc, dead, timeouts, errors, pct(lj, nj, 0.5),
	       pct(lj, nj, 0.99), pct(lc, nc, 0.5), pct(lc, nc, 0.99),
	       secs > 0 ? (double)nc / secs : 0, o->tag);
	free(lj);
	free(lc);
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .producers = 1, .records = 100, .wait = WAIT_JOURNALED,
			    .timeout_s = 60 };
	while ((c = getopt(argc, argv, "r:p:n:w:t:i:Hh")) != -1) {
		switch (c) {
		case 'r': snprintf(o->run_dir, sizeof(o->run_dir), "%s", optarg); break;
		case 'p': o->producers = atoi(optarg); break;
		case 'n': o->records = atoi(optarg); break;
		case 't': o->timeout_s = atoi(optarg); break;
		case 'i': o->interval_ms = atoi(optarg); break;
		case 'H': o->hostile = true; break;
		case 'w':
			o->wait = !strcmp(optarg, "none") ? WAIT_NONE :
				  !strcmp(optarg, "committed") ? WAIT_COMMITTED : WAIT_JOURNALED;
			break;
		default:
			fprintf(stderr, "usage: vagent-recload -r RUN_DIR [-p PRODUCERS] "
				"[-n RECORDS_EACH] [-w none|journaled|committed] [-t TIMEOUT_S] "
				"[-i INTERVAL_MS] [-H]\n");
			return -1;
		}
	}
	if (!o->run_dir[0] || o->producers < 1 || o->producers > 256 || o->records < 1) {
		fprintf(stderr, "vagent-recload: -r RUN_DIR is required; -p 1..256; -n >= 1\n");
		return -1;
	}
	uint8_t rnd[6];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (int i = 0; i < 6; i++)
		o->tag[i] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[rnd[i] & 31];
	return 0;
}

/* -H: three honest bookings, then a scribbled queue header; waits to be killed. */
static int hostile(struct opts *o, struct shm_map *shm)
{
	struct producer p = { .o = o, .shm = shm };
	uint64_t seq[3];
	int64_t t[3], ids[3];
	int jn = 0, cn = 0;

	uint32_t region;
	if (shm_claim_producer(shm, getpid(), &region) < 0) {
		fprintf(stderr, "vagent-recload: no producer queue free\n");
		return 1;
	}
	p.region = (int)region;
	struct recq *q = shm_recq(shm, (uint32_t)p.region);
	p.seq = seq;
	p.t_put = p.t_journaled = p.t_committed = t;
	p.ids = ids;
	for (int i = 0; i < 3; i++)
		if (put_one(&p, q, shm_bell(shm), i) < 0)
			return 1;
	int64_t deadline = deadline_of(o);
	while (jn < 3 && mono_ns() < deadline) {
		harvest(&p, q, 3, &jn, &cn);
		if (!nap(shm, &p.next_check_ns))
			break;
	}
	uint64_t far = 1ull << 30;
	uint8_t hdr[RECQ_HDR_LEN] = { 64, 0, 0, 0, 1, 1 };
	memcpy((uint8_t *)(q + 1) + 8, hdr, sizeof(hdr));	/* where the old mask pointed */
	q->cap = q->mask = 0xffffffffu;
	atomic_store(&q->tail, far);
	atomic_store(&q->head, far + 128);
	bell_ring(shm_bell(shm));
	printf("{\"hostile\":%d,\"journaled\":%d,\"tag\":\"%s\"}\n", p.region, jn, o->tag);
	fflush(stdout);
	while (mono_ns() < deadline && daemon_alive(shm))
		sleep(1);
	return 3;	/* nobody killed us */
}

int main(int argc, char **argv)
{
	struct opts o;
	struct shm_map shm;
	char err[512];

	if (parse(argc, argv, &o) < 0)
		return 2;
	if (shm_open_rw(&shm, o.run_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "vagent-recload: %s\n", err);
		return 1;
	}
	if (o.hostile)
		return hostile(&o, &shm);
	struct producer *ps = calloc((size_t)o.producers, sizeof(*ps));
	pthread_t *th = calloc((size_t)o.producers, sizeof(*th));
	for (int k = 0; k < o.producers; k++) {
		struct producer *p = &ps[k];
		p->o = &o;
		p->shm = &shm;
		uint32_t region;
		if (shm_claim_producer(&shm, getpid(), &region) < 0) {
			fprintf(stderr, "vagent-recload: only %d producer queue(s) free; raise "
				"[vagentd] extra_producers\n", k);
			return 1;
		}
		p->region = (int)region;
		size_t n = (size_t)o.records;
		p->seq = calloc(n, sizeof(uint64_t));
		p->t_put = calloc(n, sizeof(int64_t));
		p->t_journaled = calloc(n, sizeof(int64_t));
		p->t_committed = calloc(n, sizeof(int64_t));
		p->ids = calloc(n, sizeof(int64_t));
	}
	int64_t t0 = mono_ns();
	for (int k = 0; k < o.producers; k++)
		pthread_create(&th[k], NULL, produce, &ps[k]);
	for (int k = 0; k < o.producers; k++)
		pthread_join(th[k], NULL);
	report(&o, ps, t0);
	if (!daemon_alive(&shm))
		fprintf(stderr, "vagent-recload: vagentd (pid %d) is gone; stopped waiting\n",
			(int)shm_hdr(&shm)->master_pid);
	int rc = 0;
	for (int k = 0; k < o.producers; k++) {
		struct producer *p = &ps[k];
		rc |= p->errors || p->done_journaled < o.records;
		atomic_store(&shm_recq(&shm, (uint32_t)p->region)->owner_pid, 0);
		free(p->seq); free(p->t_put); free(p->t_journaled); free(p->t_committed);
		free(p->ids);
	}
	free(ps);
	free(th);
	shm_unmap(&shm);
	return rc;
}

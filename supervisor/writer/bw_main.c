/*
 * bw_main.c - the booking-writer process: start-up, signals, shutdown.
 *
 * Forked by the supervisor with the whole shared segment mapped. Every
 * signal stays blocked in every thread; one thread takes them with
 * sigwait(): SIGTERM or SIGINT asks the others to finish (the journal
 * thread drains every queue a last time, the database thread applies what
 * it can within a grace period), SIGUSR1 reopens the log file.
 */
#include "bw.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "../../common/conf.h"
#include "../../common/log.h"

#define ROTATE_BYTES (64ull << 20)

static void *signal_thread(void *arg)
{
	struct bw *w = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			log_reopen();
			continue;
		}
		atomic_store(&w->stopping, true);
		bell_ring(w->bell);
		pthread_mutex_lock(&w->mu);
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->mu);
		return NULL;
	}
}

/* Region i's queue, from the layout copied at start-up (checked by layout()). */
struct recq *bw_recq(const struct bw *w, uint32_t i)
{
	const struct shm_header *h = &w->layout;

	return (struct recq *)((char *)w->shm.base + h->slots_off + i * h->slot_region_size +
			       h->recq_off);
}

/*
 * Copies the layout the supervisor wrote before the fork, and checks it
 * against the mapping once: every queue address and size the writer uses
 * comes from this copy, never again from shared memory; so does the place
 * of its statistics section.
 */
static void layout(struct bw *w)
{
	struct shm_header *h = &w->layout;
	const struct shm_section *sec;
	char err[256];

	memcpy(h, w->shm.base, sizeof(*h));
	if (h->magic != SHM_MAGIC || h->nregions == 0 || h->nregions > UINT16_MAX ||
	    !recq_cap_ok(h->recq_cap) || h->recq_off % 64 ||
	    h->recq_off + recq_bytes(h->recq_cap) > h->slot_region_size ||
	    h->slot_region_size > w->shm.size ||
	    h->slots_off + (uint64_t)h->nregions * h->slot_region_size > w->shm.size)
		panic("writer: the segment's layout does not fit its mapping");
	w->nregions = h->nregions;
	w->recq_cap = h->recq_cap;
	if (shm_section_find(h, &bw_stats_section, &sec, err, sizeof(err)) < 0)
		panic("writer: %s", err);	/* laid out by our own supervisor */
	w->stats = (struct bw_stats *)((char *)w->shm.base + sec->off);
}

/* The journal thread's view of each queue: where reading resumes. */
static void queues_init(struct bw *w)
{
	for (uint32_t i = 0; i < w->nregions; i++) {
		struct bw_queue *t = &w->queues[i];
		t->q = bw_recq(w, i);
		t->pos = recq_tail(t->q);
		if (recq_condemned(t->q)) {	/* a reset was pending when we (re)started */
			t->condemned = true;
			t->req = recq_condemn(t->q);
		}
	}
}

static void setup(struct bw *w, const struct conf *c, int shm_fd, void *segment,
		  size_t size)
{
	char err[1024];
	uint64_t pending = 0;

	w->conf = c;
	w->shm.base = segment;
	w->shm.size = size;
	w->shm.fd = shm_fd;
	w->hdr = shm_hdr(&w->shm);
	w->bell = shm_bell(&w->shm);
	w->epoch = (uint64_t)w->hdr->birth_real_ns;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	layout(w);
	w->payload = malloc(JREC_MAX_PAYLOAD);
	w->raw = malloc(w->recq_cap);
	w->queues = calloc(w->nregions, sizeof(*w->queues));
	if (!w->payload || !w->raw || !w->queues)
		fatal("writer: out of memory");
	queues_init(w);
	if (journal_open(&w->j, c->journal_dir, ROTATE_BYTES, &pending, err, sizeof(err)) < 0)
		fatal("writer: %s", err);
	w->durable = journal_end(&w->j);
	atomic_store(&w->stats->backlog, pending);
	atomic_store(&w->stats->pid, (int32_t)getpid());
	if (pending)
		log_info("writer", NULL, "journal holds %llu record(s) not yet in MariaDB",
			 (unsigned long long)pending);
}

void writer_main(const struct conf *c, int shm_fd, void *segment, size_t size)
{
	struct bw w = { 0 };
	pthread_t db, sig;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);	/* holds the DB password: no ptrace (inherited; kept explicit) */
	setup(&w, c, shm_fd, segment, size);
	if (pthread_create(&sig, NULL, signal_thread, &w) != 0 ||
	    pthread_create(&db, NULL, bw_db_thread, &w) != 0)
		fatal("writer: cannot start threads");
	log_info("writer", NULL, "booking-writer ready: journal %s, %u queue(s)",
		 c->journal_dir, w.nregions);
	bw_collect_loop(&w);
	pthread_join(db, NULL);
	if (!atomic_load(&w.stopping))
		pthread_cancel(sig);
	pthread_join(sig, NULL);
	log_info("writer", NULL, "booking-writer stopped: %llu record(s) still to commit",
		 (unsigned long long)atomic_load(&w.stats->backlog));
	atomic_store(&w.stats->pid, 0);
	atomic_store(&w.stats->db_up, 0);
	journal_close(&w.j);
	free(w.payload);
	free(w.raw);
	free(w.queues);
	_exit(0);
}

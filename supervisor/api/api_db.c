/*
 * api_db.c - the api's MariaDB: one thread owns the connection and runs
 * the api's statements one at a time; the event loop never calls
 * libmariadb.
 *
 * Why a thread: every libmariadb call blocks, and a server that hangs
 * (stopped, swapping, stuck on a lock) holds a call for its whole timeout.
 * Made from the loop, such a call stalled every request, even /healthz and
 * create_booking, which need no database at all. libmariadb's non-blocking
 * calls would keep the work in the loop, at the price of a state machine
 * per statement; one thread and a queue is simpler and as sound.
 *
 * How: a handler makes a job (api_job_new) and submits it with how long
 * its client may wait. The thread runs job->run on its connection and
 * hands the job back through an eventfd; job->done then runs in the loop,
 * exactly once: with run's result, or with -ETIMEDOUT when the wait ran
 * out first (the handler answers from memory or with a 503; a late result
 * is dropped). At most API_DB_QUEUE jobs wait; past that api_db_submit()
 * refuses at once. So a hung server costs each request at most its wait,
 * and the rest of the api nothing.
 *
 * The connection is opened on the thread when a job needs it, with
 * read/write timeouts of API_DB_IO_S so that the thread itself comes back
 * from a hung server; after a failed statement it is closed and reopened
 * no sooner than a second later (5 s after a failed connect). Meanwhile
 * jobs fail at once with -EAGAIN: "down" answers without waiting.
 *
 * Never: touch a job after handing it back; call libmariadb from the loop;
 * wait at exit for a thread stuck in a call (the process exits past it).
 */
#include "api.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../common/booking/db.h"
#include "../../common/log.h"
#include "../../common/vg_time.h"

#define API_DB_QUEUE 64
#define API_DB_IO_S 5
#define RETRY_STMT_NS (1 * NS_PER_S)
#define RETRY_CONNECT_NS (5 * NS_PER_S)

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED };

struct api_dbq {
	const struct conf *conf;
	pthread_t thread;
	bool started;
	int efd;			/* thread -> loop: jobs finished */
	struct event *ev;

	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cond;
	struct api_job *queue, **queue_end;
	size_t queued;
	struct api_job *finished;
	bool busy, stop;

	/* The thread's own. */
	struct api_dbconn c;
	int64_t retry_ns;
	bool logged_down;
};

struct api_job *api_job_new(size_t size, api_job_run_fn run, api_job_done_fn done,
			    void (*release)(struct api_job *))
{
	struct api_job *j = calloc(1, size);

	if (j) {
		j->run = run;
		j->done = done;
		j->release = release;
	}
	return j;
}

void api_job_free(struct api_job *j)
{
	if (!j)
		return;
	if (j->release)
		j->release(j);
	if (j->timer)
		event_free(j->timer);
	free(j);
}

/* -------- the thread -------- */

static void conn_close(struct api_dbq *q, int64_t retry_in)
{
	if (q->c.st_repeat)
		mysql_stmt_close(q->c.st_repeat);
	q->c.st_repeat = NULL;
	db_close(q->c.db);
	q->c.db = NULL;
	q->retry_ns = mono_ns() + retry_in;
	q->logged_down = true;
}

static MYSQL *conn_get(struct api_dbq *q)
{
	char err[512];

	if (q->c.db)
		return q->c.db;
	if (mono_ns() < q->retry_ns)
		return NULL;
	if (db_connect_timeout(q->conf, API_DB_IO_S, &q->c.db, err, sizeof(err)) < 0) {
		if (!q->logged_down)
			log_error("api", NULL, "MariaDB unreachable: %s", err);
		conn_close(q, RETRY_CONNECT_NS);
		return NULL;
	}
	if (q->logged_down)
		log_info("api", NULL, "MariaDB reachable again");
	q->logged_down = false;
	return q->c.db;
}

int api_db_fail(struct api_dbconn *c, MYSQL_STMT *st, const char *what)
{
	log_error("api", NULL, "MariaDB: %s: %s", what,
		  st ? mysql_stmt_error(st) : c->db ? mysql_error(c->db) : "no connection");
	return -EIO;
}

static void run_one(struct api_dbq *q, struct api_job *j)
{
	if (!conn_get(q)) {
		j->rc = -EAGAIN;
		return;
	}
	j->rc = j->run(&q->c, j);
	if (j->rc < 0)
		conn_close(q, RETRY_STMT_NS);	/* a fresh session for the next job */
}

static void *thread_main(void *arg)
{
	struct api_dbq *q = arg;
	uint64_t one = 1;

	mysql_thread_init();
	pthread_mutex_lock(&q->mu);
	while (!q->stop) {
		struct api_job *j = q->queue;
		if (!j) {
			pthread_cond_wait(&q->cond, &q->mu);
			continue;
		}
		if (!(q->queue = j->next))
			q->queue_end = &q->queue;
		q->queued--;
		j->state = JOB_RUNNING;
		q->busy = true;
		pthread_mutex_unlock(&q->mu);

		run_one(q, j);

		pthread_mutex_lock(&q->mu);
		q->busy = false;
		j->state = JOB_FINISHED;
		j->next = q->finished;
		q->finished = j;
		if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_error("api", NULL, "database thread cannot wake the loop: %s",
				  strerror(errno));
	}
	pthread_mutex_unlock(&q->mu);
	conn_close(q, 0);
	mysql_thread_end();
	return NULL;
}

/* -------- the loop -------- */

static void answer(struct api *a, struct api_job *j, int rc)
{
	j->answered = true;
	a->db_jobs--;
	j->done(a, j, rc);
}

static void on_finished(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	struct api_dbq *q = a->dbq;
	uint64_t n;
	(void)what;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&q->mu);
	struct api_job *j = q->finished;
	q->finished = NULL;
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct api_job *next = j->next;
		if (!j->answered)
			answer(a, j, j->rc);
		api_job_free(j);
		j = next;
	}
}

/* Its wait ran out: answer now; the thread may still have it. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct api_job *j = arg;
	struct api *a = j->a;
	struct api_dbq *q = a->dbq;
	bool mine = false;
	(void)fd; (void)what;

	pthread_mutex_lock(&q->mu);
	if (j->state == JOB_QUEUED) {		/* never started: take it out */
		struct api_job **pp = &q->queue;
		while (*pp != j)
			pp = &(*pp)->next;
		if (!(*pp = j->next))
			q->queue_end = pp;
		q->queued--;
		j->state = JOB_FINISHED;
		mine = true;
	}
	pthread_mutex_unlock(&q->mu);
	answer(a, j, -ETIMEDOUT);
	if (mine)
		api_job_free(j);
}

int api_db_submit(struct api *a, struct api_job *j, int wait_ms)
{
	struct api_dbq *q = a->dbq;
	struct timeval tv = { wait_ms / 1000, (wait_ms % 1000) * 1000 };
	int rc = 0;

	if (!q || !q->started)
		return -EAGAIN;
	j->a = a;
	if (!j->timer && !(j->timer = evtimer_new(a->base, on_timeout, j)))
		return -ENOMEM;
	pthread_mutex_lock(&q->mu);
	if (q->stop || q->queued >= API_DB_QUEUE) {
		rc = -ENOBUFS;
	} else {
		j->state = JOB_QUEUED;
		j->next = NULL;
		*q->queue_end = j;
		q->queue_end = &j->next;
		q->queued++;
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
	if (rc == 0) {
		a->db_jobs++;
		evtimer_add(j->timer, &tv);
	}
	return rc;
}

int api_db_start(struct api *a)
{
	struct api_dbq *q = calloc(1, sizeof(*q));
	sigset_t all, old;
	int rc;

	if (!q)
		return -ENOMEM;
	a->dbq = q;
	q->conf = a->conf;
	q->queue_end = &q->queue;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	q->ev = event_new(a->base, q->efd, EV_READ | EV_PERSIST, on_finished, a);
	if (!q->ev || event_add(q->ev, NULL) < 0)
		return -ENOMEM;
	if (mysql_library_init(0, NULL, NULL))	/* before any other thread uses it */
		return -ENOMEM;
	/* Signals are the loop's (signalfd): the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&q->thread, NULL, thread_main, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	q->started = true;
	return 0;
}

void api_db_stop(struct api *a)
{
	struct api_dbq *q = a->dbq;
	bool busy;

	if (!q)
		return;
	if (q->started) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		busy = q->busy;
		pthread_cond_signal(&q->cond);
		pthread_mutex_unlock(&q->mu);
		if (busy) {		/* stuck in a call: the process exits past it */
			event_free(q->ev);	/* the loop's side only */
			q->ev = NULL;
			return;
		}
		pthread_join(q->thread, NULL);
	}
	/* Jobs still here were all answered (the loop waits for that). */
	for (struct api_job *j = q->queue, *next; j; j = next) {
		next = j->next;
		api_job_free(j);
	}
	for (struct api_job *j = q->finished, *next; j; j = next) {
		next = j->next;
		api_job_free(j);
	}
	if (q->ev)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
	a->dbq = NULL;
}

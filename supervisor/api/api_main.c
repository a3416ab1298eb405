/*
 * api_main.c - the api process: start-up, its loop, graceful stop.
 *
 * Forked by vagentd with the api's listening socket. It maps its own record
 * queue, the writer's doorbell and its statistics read-write, and the rest
 * of the segment read-only. SIGTERM (a reload's replacement is running,
 * or vagentd is stopping): stop accepting, answer every request already
 * taken (each has a bound: the journal's wait, a database job's wait),
 * exit. Signals come through a signalfd, as in the workers; the database
 * thread (api_db.c) takes none.
 */
#include "api.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/vg_time.h"

#define HARD_BODY_MAX (1 << 20)	/* past this libevent answers 413 itself */
#define STOP_GRACE_MS 1000

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	api_did_refresh(arg);
}

static void on_ack(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	(void)fd; (void)what;

	api_pending_tick(a);
	if (a->stopping && !a->pending && !a->db_jobs)
		event_base_loopbreak(a->base);
}

void api_listen(struct api *a)
{
	if (a->bound || a->stopping)
		return;
	if (a->listen_ev)
		event_del(a->listen_ev);
	a->bound = evhttp_accept_socket_with_handle(a->http, a->listen_fd);
	if (!a->bound)
		fatal("api: cannot take connections on %s", a->conf->api_listen);
	log_info("api", NULL, "api listening on %s: %zu DID(s) known", a->conf->api_listen,
		 a->ndids);
}

static void begin_stop(struct api *a)
{
	struct timeval tv = { 0, 1000 };

	if (a->stopping)
		return;
	a->stopping = true;
	api_sse_stop(a);	/* the boards reconnect, to the api that replaces this one */
	if (a->listen_ev)
		event_del(a->listen_ev);
	if (a->bound)
		evhttp_del_accept_socket(a->http, a->bound);	/* vagentd keeps its copy */
	a->bound = NULL;
	a->stop_deadline_ns = mono_ns() + (a->conf->api_journal_wait_ms + STOP_GRACE_MS) * NS_PER_MS;
	event_add(a->ack_ev, &tv);
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
	struct api *a = arg;
	struct signalfd_siginfo si;
	(void)what;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1)
			log_reopen();
		else
			begin_stop(a);
	}
}

static void map_mine(struct api *a, int shm_fd, void *segment, size_t size, int region)
{
	const struct shm_section *own;
	void *writer;
	char err[256];

	a->seg.base = segment;
	a->seg.size = size;
	a->seg.fd = -1;
	a->hdr = shm_hdr(&a->seg);
	uint32_t mine = a->hdr->nslots + (uint32_t)region;	/* after the workers' */
	if (region < 0 || region >= SHM_API_REGIONS || mine >= a->hdr->nregions)
		panic("api: no record queue %d", region);
	if (shm_section_find(a->hdr, &api_stats_section, &own, err, sizeof(err)) < 0 ||
	    shm_section_get(&a->seg, &bw_stats_section, &writer, err, sizeof(err)) < 0)
		panic("api: %s", err);	/* laid out by our own supervisor */
	if (shm_map_slot(&a->region, shm_fd, a->hdr, mine) < 0 ||
	    shm_map_bell(&a->bell_map, shm_fd, a->hdr) < 0 ||
	    shm_map_section(&a->stats_map, shm_fd, own) < 0)
		fatal("api: cannot map its shared memory: %s", strerror(errno));
	/* The rest stays readable (health, writer state), never writable. */
	mprotect(segment, size, PROT_READ);
	close(shm_fd);
	a->q = region_recq(a->region.base, a->hdr);
	a->bell = a->bell_map.base;
	a->stats = a->stats_map.base;
	a->writer = writer;
	atomic_store(&a->q->owner_pid, (int32_t)getpid());
	atomic_store(&a->stats->pid, (int32_t)getpid());
}

static void setup(struct api *a, int listen_fd)
{
	sigset_t set;
	struct timeval every = { a->conf->api_did_refresh, 0 };

	/* localtime_r() then speaks the businesses' time, for the greeting. */
	setenv("TZ", a->conf->api_time_zone, 1);
	tzset();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_SETMASK, &set, NULL);	/* the rest were blocked across fork() */
	a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	a->base = event_base_new();
	a->http = a->base ? evhttp_new(a->base) : NULL;
	if (a->sig_fd < 0 || !a->http)
		fatal("api: cannot create its event loop");
	evhttp_set_max_body_size(a->http, HARD_BODY_MAX);
	evhttp_set_max_headers_size(a->http, 16384);
	evhttp_set_timeout(a->http, a->conf->api_request_timeout);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
				   EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_PATCH |
				   EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, api_route, a);
	a->listen_fd = listen_fd;	/* taken once the DID map is there: api_did_start() */
	a->sig_ev = event_new(a->base, a->sig_fd, EV_READ | EV_PERSIST, on_signal, a);
	a->refresh_ev = event_new(a->base, -1, EV_PERSIST, on_refresh, a);
	a->ack_ev = event_new(a->base, -1, 0, on_ack, a);
	if (!a->sig_ev || !a->refresh_ev || !a->ack_ev ||
	    event_add(a->sig_ev, NULL) < 0 || event_add(a->refresh_ev, &every) < 0)
		fatal("api: cannot register its events");
}

void api_main(const struct conf *c, int listen_fd, int shm_fd, void *segment, size_t size,
	      int region)
{
	struct api a = { .conf = c };
	int rc;

	map_mine(&a, shm_fd, segment, size, region);
	setup(&a, listen_fd);
	if ((rc = api_db_start(&a)) < 0 || (rc = api_did_start(&a)) < 0)
		fatal("api: cannot start: %s", strerror(-rc));
	while (!a.stopping || a.pending || a.db_jobs) {
		event_base_loop(a.base, EVLOOP_ONCE);
		if (a.stopping && mono_ns() > a.stop_deadline_ns)
			break;
	}
	int32_t me = (int32_t)getpid();	/* a reload's new api may have written its own */
	atomic_compare_exchange_strong(&a.stats->pid, &me, 0);
	api_sse_stop(&a);
	evhttp_free(a.http);
	event_free(a.sig_ev);
	event_free(a.refresh_ev);
	event_free(a.ack_ev);
	if (a.listen_ev)
		event_free(a.listen_ev);
	api_db_stop(&a);
	event_base_free(a.base);
	free(a.dids);
	log_info("api", NULL, "api stopped");
	_exit(0);
}

/*
 * vagent_call.c - vagent-call: the project's test caller and load generator.
 *
 * Plays Asterisk (protocols.md section 7) towards vagentd's AudioSocket
 * listener: N calls at once, each sending its UUID frame, then audio in
 * real time with DTMF where asked, and timing, checking and recording
 * what comes back. See usage() in vc_opts.c for the command line.
 *
 * Owns: the program's one context (struct vc), the event base every call
 * runs on, and the single clock: a timerfd on CLOCK_MONOTONIC with an
 * absolute first expiry and a fixed period, 20 ms split over the phases
 * (-P) and again until it is at most READ_PERIOD_NS. The kernel counts the
 * periods, so a late wake-up is caught up instead of shifting every later
 * frame: sending never drifts, whatever the load. Each tick reads every
 * socket with something to read (an epoll set polled, not slept on), then,
 * on a phase's tick, sends: the loop wakes a few hundred times a second
 * whatever the number of calls, not once per frame per call.
 * Never: uses more than one thread; does per-call work outside vc_call.c.
 * Fails: bad usage exits 2 before anything starts; a broken environment
 * (no event base, no timer) exits 1 at start-up; otherwise every call runs
 * to an outcome and the exit status is 1 if any call failed.
 */
#include "vc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "../../common/vg_time.h"

/* More descriptors than 1024 for -n 1000 (sockets, recordings). */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);	/* best effort: calls will say EMFILE */
	}
}

/* The calls whose sockets have something to read, each read once. */
static void read_ready(struct vc *vc)
{
	struct epoll_event ev[64];
	struct timespec real;
	int n;

	clock_gettime(CLOCK_REALTIME, &real);
	vc->real_off = (int64_t)real.tv_sec * NS_PER_S + real.tv_nsec - mono_ns();
	do {
		n = epoll_wait(vc->rx_ep, ev, 64, 0);
		for (int i = 0; i < n; i++)
			call_read(ev[i].data.ptr);
	} while (n == 64);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vc *vc = arg;
	uint64_t periods, sub;
	(void)what;

	if (read(fd, &periods, sizeof(periods)) != sizeof(periods) || periods == 0)
		return;	/* spurious wake-up: EAGAIN */
	vc->reads += periods;
	read_ready(vc);		/* what came since, before the replies to it go */
	sub = vc->reads / (uint64_t)vc->reads_per_sub;
	if (sub == vc->sub)
		return;		/* a tick for reading only */
	if (sub - vc->sub > 1) {
		vc->late_wakeups++;
		if (sub - vc->sub - 1 > vc->max_late_ticks)
			vc->max_late_ticks = sub - vc->sub - 1;
	}
	vc->sub = sub;
	for (int i = 0; i < vc->ncalls; i++)
		call_on_tick(&vc->calls[i]);
}

/*
 * The sockets are read at least this often: a frame that comes less than
 * this after another of its call may take that one's arrival stamp (the
 * kernel merges what waits unread), so it bounds that error.
 */
#define READ_PERIOD_NS (2500 * NS_PER_US)

static int clock_start(struct vc *vc)
{
	int64_t sub = VC_TICK_MS * NS_PER_MS / vc->o.phases;

	vc->reads_per_sub = (int)((sub + READ_PERIOD_NS - 1) / READ_PERIOD_NS);
	int64_t period = sub / vc->reads_per_sub;
	int64_t first = mono_ns() + period;
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = period },
		.it_value = { .tv_sec = first / NS_PER_S, .tv_nsec = first % NS_PER_S },
	};

	vc->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vc->tfd < 0)
		return -errno;
	vc->tick_ev = event_new(vc->base, vc->tfd, EV_READ | EV_PERSIST, on_tick, vc);
	/* The clock outranks the sockets: a busy loop must not delay a tick. */
	if (!vc->tick_ev || event_priority_set(vc->tick_ev, 0) < 0 ||
	    event_add(vc->tick_ev, NULL) < 0)
		return -ENOMEM;
	if (timerfd_settime(vc->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct vc *vc = arg;
	(void)sig; (void)what;

	for (int i = 0; i < vc->ncalls; i++)
		call_interrupt(&vc->calls[i]);
}

void vc_call_done(struct vc *vc)
{
	if (--vc->live == 0)
		event_base_loopbreak(vc->base);
}

/* Version 4 UUIDs from /dev/urandom; call 0 keeps -u if given. */
static int make_uuids(const struct vc_opts *o, uint8_t (*u)[AS_UUID_LEN])
{
	size_t want = (size_t)o->ncalls * AS_UUID_LEN, got = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (got < want) {
		ssize_t n = read(fd, (uint8_t *)u + got, want - got);
		if (n <= 0 && !(n < 0 && errno == EINTR)) {
			int err = n < 0 ? -errno : -EIO;
			close(fd);
			return err;
		}
		if (n > 0)
			got += (size_t)n;
	}
	close(fd);
	for (int i = 0; i < o->ncalls; i++) {
		u[i][6] = (uint8_t)((u[i][6] & 0x0f) | 0x40);
		u[i][8] = (uint8_t)((u[i][8] & 0x3f) | 0x80);
	}
	if (o->have_uuid)
		memcpy(u[0], o->uuid0, AS_UUID_LEN);
	return 0;
}

static int setup_base(struct vc *vc)
{
	/*
	 * No EVENT_BASE_FLAG_PRECISE_TIMER: libevent then re-arms a timerfd
	 * before every epoll_wait, one more system call per wake-up (a fifth
	 * of all of them at 50 calls). Only stagger, the connect limit and
	 * linger use libevent timers, and they may be 4 ms late (the coarse
	 * clock); every time that is measured comes from mono_ns() (arrivals:
	 * from the kernel's stamps, on that clock).
	 */
	vc->base = event_base_new();
	if (!vc->base || event_base_priority_init(vc->base, 2) < 0)
		return -ENOMEM;
	vc->rx_ep = epoll_create1(EPOLL_CLOEXEC);
	if (vc->rx_ep < 0)
		return -errno;
	vc->sigint_ev = evsignal_new(vc->base, SIGINT, on_signal, vc);
	vc->sigterm_ev = evsignal_new(vc->base, SIGTERM, on_signal, vc);
	if (!vc->sigint_ev || !vc->sigterm_ev ||
	    event_add(vc->sigint_ev, NULL) < 0 || event_add(vc->sigterm_ev, NULL) < 0)
		return -ENOMEM;
	return 0;
}

static int setup_calls(struct vc *vc)
{
	uint8_t (*uuids)[AS_UUID_LEN] = calloc((size_t)vc->o.ncalls, AS_UUID_LEN);
	int rc;

	vc->txbuf = malloc(AS_HDR_LEN + AS_MAX_PAYLOAD);
	vc->silence = calloc(VC_MAX_FRAME_SAMPLES, sizeof(int16_t));
	vc->rec_buf = vc->o.rec_pattern ? malloc(AS_MAX_PAYLOAD + 1) : NULL;
	vc->calls = calloc((size_t)vc->o.ncalls, sizeof(*vc->calls));
	if (!uuids || !vc->txbuf || !vc->silence || !vc->calls ||
	    (vc->o.rec_pattern && !vc->rec_buf)) {
		free(uuids);
		return -ENOMEM;
	}
	if ((rc = make_uuids(&vc->o, uuids)) < 0) {
		fprintf(stderr, "vagent-call: /dev/urandom: %s\n", strerror(-rc));
		free(uuids);
		return rc;
	}
	for (int i = 0; i < vc->o.ncalls; i++) {
		vc->ncalls = i + 1;	/* so that cleanup frees a half-made call */
		if ((rc = call_init(vc, &vc->calls[i], i, uuids[i])) < 0)
			break;
	}
	free(uuids);
	return rc;
}

static int setup(struct vc *vc)
{
	int rc;

	if ((rc = setup_base(vc)) < 0) {
		fprintf(stderr, "vagent-call: event loop: %s\n", strerror(-rc));
		return rc;
	}
	if ((rc = setup_calls(vc)) < 0) {
		if (rc == -ENOMEM)
			fprintf(stderr, "vagent-call: out of memory\n");
		return rc;
	}
	if ((rc = clock_start(vc)) < 0) {
		fprintf(stderr, "vagent-call: send clock: %s\n", strerror(-rc));
		return rc;
	}
	vc->live = vc->ncalls;
	for (int i = 0; i < vc->ncalls; i++)
		call_schedule(&vc->calls[i], i * vc->o.stagger_ms);
	return 0;
}

static void teardown(struct vc *vc)
{
	for (int i = 0; i < vc->ncalls; i++)
		call_free(&vc->calls[i]);
	free(vc->calls);
	free(vc->txbuf);
	free(vc->silence);
	free(vc->rec_buf);
	if (vc->tick_ev) event_free(vc->tick_ev);
	if (vc->sigint_ev) event_free(vc->sigint_ev);
	if (vc->sigterm_ev) event_free(vc->sigterm_ev);
	if (vc->tfd >= 0)
		close(vc->tfd);
	if (vc->rx_ep >= 0)
		close(vc->rx_ep);
	if (vc->base)
		event_base_free(vc->base);
	opts_free_audios(vc->audios, vc->naudios);
}

/* Outputs, and whether anything but a call's own outcome went wrong. */
static int finish_run(struct vc *vc)
{
	int rc = VC_EXIT_OK;

	if (vc->late_wakeups)
		fprintf(stderr, "vagent-call: the send clock woke late %llu times (worst by %llu "
			"ticks); frames were caught up in bursts\n",
			(unsigned long long)vc->late_wakeups,
			(unsigned long long)vc->max_late_ticks);
	report_calls(vc);
	for (int i = 0; i < vc->ncalls; i++) {
		const struct call *c = &vc->calls[i];
		if (outcome_is_error(c->outcome) || c->rec_failed || c->oom)
			rc = VC_EXIT_FAIL;
	}
	if (vc->o.times_path && report_times(vc) < 0)
		rc = VC_EXIT_FAIL;
	if (vc->o.json && report_json(vc) < 0)
		rc = VC_EXIT_FAIL;
	return rc;
}

int main(int argc, char **argv)
{
	struct vc vc = { .tfd = -1, .rx_ep = -1 };
	int rc = opts_parse(&vc.o, argc, argv);

	if (rc < 0)
		return VC_EXIT_OK;	/* -h */
	if (rc == 0)
		rc = opts_load_audios(&vc.o, &vc.audios, &vc.naudios);
	if (rc != 0) {
		opts_free_audios(vc.audios, vc.naudios);
		return rc;
	}
	raise_nofile();
	if (setup(&vc) < 0) {
		teardown(&vc);
		return VC_EXIT_FAIL;
	}
	event_base_dispatch(vc.base);
	rc = finish_run(&vc);
	teardown(&vc);
	return rc;
}

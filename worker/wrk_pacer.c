/*
 * wrk_pacer.c - the 20 ms playout clock of one call: served on the
 * caller's frames, a libevent timer as the watchdog, a timerfd for the
 * ticks while the caller is quiet. See pacer.h.
 *
 * Why two timers: the watchdog moves on every caller frame, and a
 * timerfd_settime per frame was a tenth of a busy worker's system calls
 * (each one a trap to the hypervisor here). A libevent timer moves in its
 * heap for nothing and only shapes epoll_wait's timeout; its millisecond
 * grain (and libevent's coarse clock) is harmless for a deadline half a
 * period after the frame expected. The ticks themselves, once the caller
 * is quiet, need the timerfd's precision.
 *
 * Why a phase snap: serving on the caller's wake-up puts our frames at the
 * caller's times, so only which tick is due depends on the virtual clock.
 * If a reply's rephase left the ticks near half a period from the caller's
 * frames, jitter would make a frame go one wake-up early and leave a gap
 * after it. When a served tick is more than a quarter period off the frame
 * that served it, the clock is moved onto that frame; within a quarter it
 * stays put, so ordinary jitter never moves it.
 */
#include "pacer.h"

#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/vg_time.h"

struct pacer {
	int fd;
	int64_t period;
	int64_t next;			/* the first tick not served yet */
	int64_t last_served;		/* when a wake-up last served ticks */
	bool periodic;			/* the timerfd runs on the ticks: no caller */
	unsigned moves;			/* rephases so far: fn may move the clock */
	struct event *ev;		/* the timerfd */
	struct event *watch;		/* the watchdog */
	pacer_fn fn;
	void *arg;
};

/* The timerfd on the ticks from at, or stopped (at 0). */
static void arm(struct pacer *p, int64_t at)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = at ? p->period : 0 },
		.it_value = { .tv_sec = at / NS_PER_S, .tv_nsec = at % NS_PER_S },
	};

	if (timerfd_settime(p->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		panic("pacer: timerfd_settime: %m");	/* only EINVAL or EFAULT: ours */
	p->periodic = at != 0;
}

/* The ticks from at go on the timerfd: nobody else will serve them. */
static void tick_from(struct pacer *p, int64_t at)
{
	evtimer_del(p->watch);
	arm(p, at);
}

/* A caller frame is due before at: the watchdog, not the timerfd, waits. */
static void watch_until(struct pacer *p, int64_t at, int64_t now)
{
	int64_t in = at > now ? at - now : 0;
	struct timeval tv = { .tv_sec = in / NS_PER_S, .tv_usec = in % NS_PER_S / 1000 };

	if (p->periodic)
		arm(p, 0);
	evtimer_add(p->watch, &tv);
}

/* Serves the ticks <= upto not served yet; false if none was due. */
static bool serve(struct pacer *p, int64_t now, int64_t upto)
{
	if (p->next > upto)
		return false;
	uint64_t ticks = (uint64_t)((upto - p->next) / p->period) + 1;

	/* Late ticks are dropped time: the clock moves past all of them. */
	p->next += (int64_t)ticks * p->period;
	p->last_served = now;
	p->fn(p->arg, ticks);
	return true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pacer *p = arg;
	uint64_t expired;
	(void)what;

	if (read(fd, &expired, sizeof(expired)) != sizeof(expired) || expired == 0)
		return;	/* re-armed since it was reported: EAGAIN */
	int64_t now = mono_ns();

	serve(p, now, now);
}

/* No caller frame for half a period past a tick: serve it, go on the ticks. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct pacer *p = arg;
	unsigned moves = p->moves;
	int64_t now = mono_ns();
	(void)fd; (void)what;

	serve(p, now, now);
	if (p->moves == moves)	/* fn rephased: already on the ticks */
		tick_from(p, p->next);
}

void pacer_inbound(struct pacer *p, int64_t now)
{
	int64_t half = p->period / 2, quarter = p->period / 4;
	unsigned moves = p->moves;

	if (now - p->last_served < half || !serve(p, now, now + half)) {
		/* Back from silence: let the next frame serve the next tick. */
		if (p->periodic)
			watch_until(p, p->next + half, now);
		return;
	}
	if (p->moves != moves)
		return;		/* fn rephased: the timer serves the next tick */
	int64_t off = p->next - p->period - now;	/* the last tick served */
	if (off > quarter || off < -quarter)
		p->next = now + p->period;
	watch_until(p, p->next + half, now);
}

int pacer_start(struct pacer **out, struct event_base *base, int period_ms,
		pacer_fn fn, void *arg)
{
	struct pacer *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->arg = arg;
	p->period = period_ms * NS_PER_MS;
	p->next = mono_ns() + p->period;
	p->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (p->fd < 0) {
		int err = -errno;
		free(p);
		return err;
	}
	p->ev = event_new(base, p->fd, EV_READ | EV_PERSIST, on_timer, p);
	p->watch = evtimer_new(base, on_watch, p);
	if (!p->ev || !p->watch || event_add(p->ev, NULL) < 0) {
		pacer_stop(p);
		return -EIO;
	}
	/* The caller's next frame is expected at the first tick. */
	watch_until(p, p->next + p->period / 2, p->next - p->period);
	*out = p;
	return 0;
}

int pacer_rephase(struct pacer *p, int64_t at_ns)
{
	p->next = at_ns;
	p->moves++;
	tick_from(p, at_ns);
	return 0;
}

void pacer_stop(struct pacer *p)
{
	if (!p)
		return;
	if (p->ev)
		event_free(p->ev);
	if (p->watch)
		event_free(p->watch);
	close(p->fd);
	free(p);
}

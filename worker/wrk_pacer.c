/*
 * wrk_pacer.c - the 20 ms playout clock of one call: served on the
 * caller's frames, a timerfd as the watchdog. See pacer.h.
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
	bool periodic;			/* the timer runs on the ticks: no caller */
	unsigned moves;			/* rephases so far: fn may move the clock */
	struct event *ev;
	pacer_fn fn;
	void *arg;
};

/* One timerfd_settime: a one-shot watchdog, or periodic on the ticks. */
static void arm(struct pacer *p, int64_t at, bool periodic)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = 0, .tv_nsec = periodic ? p->period : 0 },
		.it_value = { .tv_sec = at / NS_PER_S, .tv_nsec = at % NS_PER_S },
	};

	if (timerfd_settime(p->fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		panic("pacer: timerfd_settime: %m");	/* only EINVAL or EFAULT: ours */
	p->periodic = periodic;
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
	unsigned moves = p->moves;
	(void)what;

	if (read(fd, &expired, sizeof(expired)) != sizeof(expired) || expired == 0)
		return;	/* re-armed since it was reported: EAGAIN */
	int64_t now = mono_ns();

	serve(p, now, now);
	/* The caller is quiet: go on at the ticks until a frame comes. */
	if (p->moves == moves && !p->periodic)
		arm(p, p->next, true);
}

void pacer_inbound(struct pacer *p, int64_t now)
{
	int64_t half = p->period / 2, quarter = p->period / 4;
	unsigned moves = p->moves;

	if (now - p->last_served < half || !serve(p, now, now + half)) {
		/* Back from silence: let the next frame serve the next tick. */
		if (p->periodic)
			arm(p, p->next + half, false);
		return;
	}
	if (p->moves != moves)
		return;		/* fn rephased: the timer serves the next tick */
	int64_t off = p->next - p->period - now;	/* the last tick served */
	if (off > quarter || off < -quarter)
		p->next = now + p->period;
	arm(p, p->next + half, false);
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
	if (!p->ev || event_add(p->ev, NULL) < 0) {
		pacer_stop(p);
		return -EIO;
	}
	/* The caller's next frame is expected at the first tick. */
	arm(p, p->next + p->period / 2, false);
	*out = p;
	return 0;
}

int pacer_rephase(struct pacer *p, int64_t at_ns)
{
	p->next = at_ns;
	p->moves++;
	arm(p, at_ns, true);
	return 0;
}

void pacer_stop(struct pacer *p)
{
	if (!p)
		return;
	if (p->ev)
		event_free(p->ev);
	close(p->fd);
	free(p);
}

/*
 * playout.c - the agent's outbound audio of one call. See playout.h.
 *
 * Two replies at most are kept on the producer's side: play, the one
 * going into the ring, and next, the one after it, held until play has
 * nothing more to give. A third reply while two are unfinished keeps the
 * newest. Audio waits as bytes in a struct buf, so a split sample's first
 * byte simply stays at the front until its second comes.
 *
 * Which reply the pacer's samples were: the thread marks, before it first
 * writes a context, that context and the ring position of its first
 * sample (one 64-bit word, so the pair is never torn). The pacer mirrors
 * the ring's read position, so a frame that holds the tail of one reply
 * and the start of the next counts only the part that is the current
 * reply's. The same mark tells the pacer that the last audio written was
 * a cancelled reply's (the thread checked the reply was live just before
 * the main loop cancelled it): then the whole ring is stale and goes.
 *
 * Synchronising pairs:
 *  C: the context numbers (cur, dropped, lost): the main loop stores, the
 *     thread loads (sequentially consistent: the values are the message).
 *  M: the mark is stored (relaxed) before ring_write() publishes the head
 *     with release (the ring's pair A); the pacer loads it (relaxed) only
 *     after ring_avail() or ring_read() acquired the head, so it sees the
 *     mark of every sample it can see.
 *  F: first: the thread stores with release, then activates the event; the
 *     main loop's callback exchanges with acquire.
 *  written and backlog are counters the main loop only reports (relaxed).
 *
 * The producer (the websocket hooks, ws.h) now runs on the main loop, and
 * must: event_active() is the loop thread's own call. The pairs above are
 * from when it had a thread of its own; on one thread the atomics cost
 * next to nothing (plain loads and stores on x86) and are left as they
 * are. The first-audio event is still delivered from its own callback,
 * never from inside playout_audio(): the engine must not run in the middle
 * of a provider's message.
 */
#include "playout.h"

#include <errno.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../common/buf.h"
#include "../ipc/ring.h"

/* Thread: one reply's audio not yet in the ring. */
struct pctx {
	struct buf a;			/* bytes; an odd last one waits for its pair */
	uint32_t ctx;
	bool done;			/* its done has come: no more audio */
};

struct playout {
	struct ring *ring;
	/* Main loop only. */
	struct event *ev;		/* first-audio: fd-less, activated by the producer (F) */
	int refs;			/* the owner, and an attached producer */
	void (*first_fn)(void *arg, uint32_t ctx);
	void *first_arg;
	void (*wake)(void *arg);
	void *wake_arg;
	void (*cancel_fn)(void *arg);	/* the call's transport: the peer drops its audio too */
	void *cancel_arg;
	void (*refill_fn)(void *arg);	/* the call: audio came into an empty ring */
	void *refill_arg;
	bool refilled;
	bool begun;			/* cur was begun and is not cancelled */
	uint32_t r_pos;			/* the ring's read position, mirrored */
	uint64_t played;		/* samples of cur the pacer took */

	_Atomic uint32_t cur;		/* main writes (C): the current reply, 0: none */
	_Atomic uint32_t dropped;	/* main writes (C): the last cancelled reply */
	_Atomic uint32_t lost;		/* main writes (C): the last reply whose link died */
	_Atomic uint64_t mark;		/* thread writes (M): ctx << 32 | its first position */
	_Atomic uint32_t first;		/* thread writes (F): a reply whose first audio came */
	_Atomic uint64_t written;	/* thread writes: samples of cur in the ring */
	_Atomic bool backlog;		/* thread writes: audio waits for ring space */

	/* The producer's thread only. */
	uint32_t w_pos;			/* the ring's write position, mirrored */
	uint32_t first_seen;		/* the reply whose first audio was reported */
	struct pctx play, next;
};

static void pctx_reset(struct pctx *b, uint32_t ctx)
{
	buf_reset(&b->a);
	b->ctx = ctx;
	b->done = false;
}

/* First audio, and audio into an empty ring: the call hears of it after the producer's hook. */
static void on_first(evutil_socket_t fd, short what, void *arg)
{
	struct playout *p = arg;
	(void)fd; (void)what;

	uint32_t ctx = atomic_exchange_explicit(&p->first, 0, memory_order_acquire);	/* F */
	if (ctx && ctx == atomic_load(&p->cur) && p->first_fn)
		p->first_fn(p->first_arg, ctx);
	if (p->refilled && p->refill_fn && p->ev) {
		p->refilled = false;
		p->refill_fn(p->refill_arg);
	}
}

int playout_new(struct playout **out, struct event_base *base, struct ring *ring)
{
	struct playout *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->ring = ring;
	p->refs = 1;
	buf_init(&p->play.a, PLAYOUT_WAIT_MAX);
	buf_init(&p->next.a, PLAYOUT_WAIT_MAX);
	p->ev = event_new(base, -1, 0, on_first, p);
	if (!p->ev) {
		playout_close(p);
		return -ENOMEM;
	}
	ring_flush(ring);	/* the mirrored positions start at an empty ring */
	*out = p;
	return 0;
}

static void unref(struct playout *p)
{
	if (--p->refs > 0)
		return;
	buf_free(&p->play.a);
	buf_free(&p->next.a);
	free(p);
}

void playout_close(struct playout *p)
{
	if (!p)
		return;
	atomic_store(&p->cur, 0);	/* C: no context is live for the thread now */
	p->begun = false;
	if (p->ev)
		event_free(p->ev);
	p->ev = NULL;
	p->first_fn = NULL;
	unref(p);
}

void playout_on_first_audio(struct playout *p, void (*fn)(void *arg, uint32_t ctx), void *arg)
{
	p->first_fn = fn;
	p->first_arg = arg;
}

void playout_attach(struct playout *p, void (*wake)(void *arg), void *arg)
{
	p->refs++;
	p->wake = wake;
	p->wake_arg = arg;
}

void playout_detach(struct playout *p)
{
	if (!p)
		return;
	p->wake = NULL;
	unref(p);
}

/* ---- contexts, main loop ---- */

uint32_t playout_begin(struct playout *p)
{
	uint32_t n = atomic_load(&p->cur) + 1;

	if (n == 0)
		n = 1;
	atomic_store_explicit(&p->written, 0, memory_order_relaxed);
	p->played = 0;
	p->begun = true;
	atomic_store(&p->cur, n);	/* C */
	return n;
}

uint32_t playout_current(const struct playout *p)
{
	return atomic_load(&p->cur);
}

void playout_on_cancel(struct playout *p, void (*fn)(void *arg), void *arg)
{
	p->cancel_fn = fn;
	p->cancel_arg = arg;
}

void playout_on_refill(struct playout *p, void (*fn)(void *arg), void *arg)
{
	p->refill_fn = fn;
	p->refill_arg = arg;
}

uint32_t playout_cancel(struct playout *p)
{
	uint32_t n = atomic_load(&p->cur);
	bool cancel = p->begun;

	if (cancel) {
		/* C: first no new audio of it is live, then what is queued goes. */
		atomic_store(&p->dropped, n);
		atomic_store(&p->cur, n + 1 ? n + 1 : 1);	/* nothing will match it now */
		atomic_store_explicit(&p->written, 0, memory_order_relaxed);	/* none of that */
		p->played = 0;
		p->begun = false;
	}
	p->r_pos += (uint32_t)ring_flush(p->ring);
	if (cancel && p->cancel_fn)
		p->cancel_fn(p->cancel_arg);
	return cancel ? n : 0;
}

/*
 * Drops the ring's samples older than the newest context written (the
 * mark), or all of them when that context is cancelled too: the ring holds
 * the older replies' tails, then at most the newest one's head (a reply
 * enters only once the one before has nothing more to give).
 */
static void flush_upto(struct playout *p, uint32_t ctx)
{
	uint64_t m = atomic_load_explicit(&p->mark, memory_order_relaxed);
	int32_t older = (int32_t)((uint32_t)m - p->r_pos);
	int16_t skip[256];

	if ((uint32_t)(m >> 32) <= ctx) {
		p->r_pos += (uint32_t)ring_flush(p->ring);
		return;
	}
	while (older > 0) {
		size_t k = ring_read(p->ring, skip, (size_t)older < 256 ? (size_t)older : 256);
		if (!k)
			break;
		p->r_pos += (uint32_t)k;
		older -= (int32_t)k;
	}
}

uint32_t playout_cancel_upto(struct playout *p, uint32_t ctx)
{
	uint32_t cur = atomic_load(&p->cur), dropped = atomic_load(&p->dropped);

	if (!p->begun || ctx >= cur)
		return playout_cancel(p);
	if (!ctx || ctx <= dropped)
		return 0;
	atomic_store(&p->dropped, ctx);	/* C: no more audio of them is live */
	flush_upto(p, ctx);
	if (p->wake)
		p->wake(p->wake_arg);	/* the survivor may go into the ring now */
	return ctx;
}

void playout_lost(struct playout *p)
{
	atomic_store(&p->lost, atomic_load(&p->cur));	/* C */
	if (p->wake)
		p->wake(p->wake_arg);	/* a reply held behind them may go now */
}

uint64_t playout_written(const struct playout *p, uint32_t ctx)
{
	if (!ctx || ctx != atomic_load(&p->cur))
		return 0;
	return atomic_load_explicit(&p->written, memory_order_relaxed);
}

uint64_t playout_played(const struct playout *p, uint32_t ctx)
{
	return ctx && ctx == atomic_load(&p->cur) ? p->played : 0;
}

bool playout_backlog(const struct playout *p)
{
	return atomic_load_explicit(&p->backlog, memory_order_relaxed);
}

/* The current reply has at least ahead samples in the ring not yet played. */
static bool queued(const struct playout *p, uint64_t ahead)
{
	return atomic_load(&p->cur) &&
	       atomic_load_explicit(&p->written, memory_order_relaxed) >= p->played + ahead;
}

bool playout_may_wait(const struct playout *p, int rate)
{
	return queued(p, (uint64_t)rate / 25);		/* two 20 ms frames */
}

bool playout_well_ahead(const struct playout *p, int rate)
{
	return queued(p, (uint64_t)rate / 5);		/* 200 ms */
}

/* ---- the producer (its socket hooks) ---- */

/* Audio of this context may still play (not cancelled, not closed). */
static bool live(const struct playout *p, uint32_t ctx)
{
	return ctx && ctx > atomic_load(&p->dropped) && ctx <= atomic_load(&p->cur);	/* C */
}

bool playout_holding(const struct playout *p)
{
	return live(p, p->next.ctx);
}

/* play has nothing more to give; the next context may start. */
static bool play_over(const struct playout *p)
{
	return p->play.a.len < 2 && (p->play.done || !live(p, p->play.ctx) ||
				     p->play.ctx <= atomic_load(&p->lost));
}

static void write_ring(struct playout *p)
{
	uint32_t ctx = p->play.ctx;
	uint64_t m = atomic_load_explicit(&p->mark, memory_order_relaxed);

	if ((uint32_t)(m >> 32) != ctx)		/* M: before its samples are published */
		atomic_store_explicit(&p->mark, (uint64_t)ctx << 32 | p->w_pos,
				      memory_order_relaxed);
	size_t n = ring_write(p->ring, p->play.a.data, p->play.a.len / 2);
	p->w_pos += (uint32_t)n;
	if (ctx == atomic_load(&p->cur))
		atomic_fetch_add_explicit(&p->written, n, memory_order_relaxed);
	buf_consume(&p->play.a, n * 2);
}

void playout_push(struct playout *p)
{
	if (!live(p, p->play.ctx))
		buf_reset(&p->play.a);	/* a cancelled reply's leftovers */
	if (!live(p, p->next.ctx))
		pctx_reset(&p->next, 0);
	if (play_over(p) && p->next.ctx) {
		struct pctx b = p->play;
		p->play = p->next;
		p->next = b;
		pctx_reset(&p->next, 0);
	}
	if (p->play.a.len >= 2)
		write_ring(p);
	atomic_store_explicit(&p->backlog, p->play.a.len >= 2 || p->next.a.len >= 2,
			      memory_order_relaxed);
}

/* The buffer a live context's audio goes to, NULL if none can take it. */
static struct pctx *pctx_for(struct playout *p, uint32_t ctx)
{
	if (ctx == p->play.ctx)
		return &p->play;
	if (play_over(p) && !p->next.ctx) {
		pctx_reset(&p->play, ctx);
		return &p->play;
	}
	if (ctx < p->next.ctx)
		return NULL;
	if (ctx != p->next.ctx)
		pctx_reset(&p->next, ctx);
	return &p->next;
}

static void first_audio(struct playout *p, uint32_t ctx)
{
	if (p->first_seen == ctx)
		return;
	p->first_seen = ctx;
	atomic_store_explicit(&p->first, ctx, memory_order_release);	/* F */
	if (p->ev)
		event_active(p->ev, 0, 0);	/* same thread: no syscall, no wake-up */
}

int playout_audio(struct playout *p, uint32_t ctx, const uint8_t *bytes, size_t n)
{
	struct pctx *b;
	int rc;

	if (!live(p, ctx) || !(b = pctx_for(p, ctx)))
		return -ESTALE;
	if (!n)
		return 0;
	if ((rc = buf_append(&b->a, bytes, n)) < 0)
		return rc;
	bool empty = !ring_avail(p->ring);
	playout_push(p);
	first_audio(p, ctx);
	if (empty && p->refill_fn && p->ev && ring_avail(p->ring)) {
		p->refilled = true;
		event_active(p->ev, 0, 0);
	}
	return 0;
}

void playout_done(struct playout *p, uint32_t ctx)
{
	if (!live(p, ctx))
		return;
	if (ctx == p->play.ctx)
		p->play.done = true;
	else if (ctx == p->next.ctx)
		p->next.done = true;
	playout_push(p);
}

/* ---- the pacer, main loop ---- */

/*
 * The samples waiting now, after flushing them if the last audio written
 * was a cancelled reply's (it raced the cancel): none of it may play.
 */
static size_t flush_stale(struct playout *p)
{
	size_t avail = ring_avail(p->ring);	/* acquires the head: M after it */
	uint32_t w = (uint32_t)(atomic_load_explicit(&p->mark, memory_order_relaxed) >> 32);

	if (!avail || !w || w > atomic_load(&p->dropped))
		return avail;
	p->r_pos += (uint32_t)ring_flush(p->ring);
	return 0;
}

void playout_tick(struct playout *p)
{
	flush_stale(p);
	if (p->wake && playout_backlog(p))
		p->wake(p->wake_arg);	/* the ring has room again: push the rest */
}

/* The current reply's share of the k samples just read at r_pos. */
static void count_played(struct playout *p, size_t k)
{
	uint64_t m = atomic_load_explicit(&p->mark, memory_order_relaxed);	/* M */
	uint32_t ctx = (uint32_t)(m >> 32);
	int32_t before = (int32_t)((uint32_t)m - p->r_pos);	/* its first sample's offset */
	size_t skip = before > 0 ? (size_t)before : 0;

	if (ctx && ctx == atomic_load(&p->cur) && skip < k)
		p->played += k - skip;
}

size_t playout_read(struct playout *p, int16_t *s, size_t n)
{
	size_t avail = flush_stale(p);
	/* Only what the mark was checked for: later samples wait for the next read. */
	size_t k = ring_read(p->ring, s, n < avail ? n : avail);

	count_played(p, k);
	p->r_pos += (uint32_t)k;
	for (size_t i = k; i < n; i++)
		s[i] = 0;
	return k;
}

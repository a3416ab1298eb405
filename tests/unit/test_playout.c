/*
 * test_playout.c - unit tests for worker/playout.h, the agent's outbound
 * audio (issue 9): contexts, the order of consecutive replies, the flush
 * of a cancelled reply's audio, the cancel of the older replies only (a
 * held follow-up survives), played samples, the first-audio event.
 *
 * The ring here is a stand-in with ipc/ring.h's interface (ring.c has its
 * own tests) that can run the main loop's cancel at the one moment a unit
 * test cannot otherwise reach: after the producer's thread checked that
 * its reply is live, before its samples land in the ring. Both sides run
 * on this thread, in the order the test names; replies carry a constant
 * sample value each (A = 1, B = 2, ...) so what reached the ring is
 * readable.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ipc/ring.h"
#include "../../worker/playout.h"

#define FRAME 160

/* ---- the stand-in ring ---- */

struct fake_ring {
	struct ring r;			/* first: playout sees only this */
	uint32_t cap, head, tail;
	void (*before_write)(void *arg);	/* once, inside the next write */
	void *arg;
	int16_t s[];
};

static struct fake_ring *fake(const struct ring *r)
{
	return (struct fake_ring *)(uintptr_t)r;
}

size_t ring_space(const struct ring *r)
{
	return fake(r)->cap - (fake(r)->head - fake(r)->tail);
}

size_t ring_avail(const struct ring *r)
{
	return fake(r)->head - fake(r)->tail;
}

size_t ring_write(struct ring *r, const void *s, size_t n)
{
	struct fake_ring *f = fake(r);
	void (*hook)(void *) = f->before_write;

	f->before_write = NULL;
	if (hook)
		hook(f->arg);
	if (n > ring_space(r))
		n = ring_space(r);
	for (size_t i = 0; i < n; i++)
		memcpy(&f->s[(f->head + i) % f->cap], (const uint8_t *)s + i * 2, 2);
	f->head += (uint32_t)n;
	return n;
}

size_t ring_read(struct ring *r, void *s, size_t n)
{
	struct fake_ring *f = fake(r);

	if (n > ring_avail(r))
		n = ring_avail(r);
	for (size_t i = 0; i < n; i++)
		memcpy((uint8_t *)s + i * 2, &f->s[(f->tail + i) % f->cap], 2);
	f->tail += (uint32_t)n;
	return n;
}

size_t ring_flush(struct ring *r)
{
	size_t n = ring_avail(r);

	fake(r)->tail = fake(r)->head;
	return n;
}

/* ---- fixture ---- */

struct fx {
	struct event_base *base;
	struct fake_ring *ring;
	struct playout *p;
	uint32_t first[8];		/* first-audio events, in order */
	int nfirst;
	int wakes;
	int refills;
};

static void on_first(void *arg, uint32_t ctx)
{
	struct fx *f = arg;

	if (f->nfirst < 8)
		f->first[f->nfirst] = ctx;
	f->nfirst++;
}

static void on_wake(void *arg)
{
	((struct fx *)arg)->wakes++;
}

static void on_refill(void *arg)
{
	((struct fx *)arg)->refills++;
}

static struct fx *fx_new(uint32_t cap)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->base = event_base_new();
	f->ring = calloc(1, sizeof(*f->ring) + cap * sizeof(int16_t));
	assert_non_null(f->base);
	assert_non_null(f->ring);
	f->ring->cap = cap;
	assert_int_equal(playout_new(&f->p, f->base, &f->ring->r), 0);
	playout_on_first_audio(f->p, on_first, f);
	playout_on_refill(f->p, on_refill, f);
	playout_attach(f->p, on_wake, f);
	return f;
}

static int fx_setup(void **state)
{
	*state = fx_new(4096);
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	playout_close(f->p);
	playout_detach(f->p);	/* the producer goes last, as a websocket does */
	event_base_free(f->base);
	free(f->ring);
	free(f);
	return 0;
}

/* The producer's thread: n samples of value v for ctx. */
static int say(struct fx *f, uint32_t ctx, int16_t v, size_t n)
{
	int16_t *s = malloc(n * sizeof(*s));

	assert_non_null(s);
	for (size_t i = 0; i < n; i++)
		s[i] = v;
	int rc = playout_audio(f->p, ctx, (const uint8_t *)s, n * 2);
	free(s);
	return rc;
}

/* The pacer: takes n samples; the count of those equal to v. */
static size_t take(struct fx *f, size_t n, int16_t v, size_t *got)
{
	int16_t s[4096];
	size_t k = 0;

	assert_true(n <= 4096);
	playout_tick(f->p);
	*got = playout_read(f->p, s, n);
	for (size_t i = 0; i < n; i++) {
		k += s[i] == v;
		if (i >= *got)
			assert_int_equal(s[i], 0);	/* the rest is silence */
	}
	return k;
}

/* The ring holds, in order and without taking them, na samples of reply
 * A (1) then nb of reply B (2). */
static void ring_holds(struct fx *f, size_t na, size_t nb)
{
	struct fake_ring *r = f->ring;

	assert_int_equal(r->head - r->tail, na + nb);
	for (size_t i = 0; i < na + nb; i++)
		assert_int_equal(r->s[(r->tail + i) % r->cap], i < na ? 1 : 2);
}

/* Reply A says 100 samples, then reply B 100 more, held behind A's. */
static uint32_t a_then_b(struct fx *f, uint32_t *b)
{
	uint32_t a = playout_begin(f->p);

	assert_int_equal(say(f, a, 1, 100), 0);
	*b = playout_begin(f->p);
	assert_int_equal(say(f, *b, 2, 100), 0);
	ring_holds(f, 100, 0);
	return a;
}

/* ---- tests ---- */

/* The sentence said before a tool call is not cut by the answer after it. */
static void a_follow_up_waits_for_the_earlier_done(void **state)
{
	struct fx *f = *state;
	uint32_t b, a = a_then_b(f, &b);

	assert_true(playout_backlog(f->p));
	assert_int_equal(say(f, a, 1, 50), 0);		/* a's late words still go first */
	ring_holds(f, 150, 0);
	playout_done(f->p, a);
	ring_holds(f, 150, 100);
	assert_false(playout_backlog(f->p));
}

/* A lost connection is as good as a done: the follow-up is not stuck. */
static void a_follow_up_goes_when_the_earlier_context_is_lost(void **state)
{
	struct fx *f = *state;
	uint32_t b;
	int wakes = f->wakes;

	a_then_b(f, &b);
	playout_lost(f->p);
	assert_int_equal(f->wakes, wakes + 1);		/* the producer is told to push */
	playout_push(f->p);				/* which its thread then does */
	ring_holds(f, 100, 100);
}

static void late_chunks_of_a_cancelled_context_are_dropped(void **state)
{
	struct fx *f = *state;
	uint32_t a = playout_begin(f->p);

	assert_int_equal(say(f, a, 1, 100), 0);
	assert_int_equal(playout_cancel(f->p), a);
	assert_int_equal(playout_cancel(f->p), 0);	/* twice is harmless */
	assert_int_equal(ring_avail(&f->ring->r), 0);	/* what was queued went */
	assert_int_equal(say(f, a, 1, 100), -ESTALE);
	playout_done(f->p, a);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_false(playout_backlog(f->p));

	uint32_t b = playout_begin(f->p);
	assert_int_equal(say(f, b, 2, 100), 0);
	assert_int_equal(say(f, a, 1, 100), -ESTALE);
	ring_holds(f, 0, 100);
}

/* A reply held behind another and cancelled never enters, nor does the
 * earlier one: a barge-in silences everything queued. */
static void a_cancelled_follow_up_never_enters(void **state)
{
	struct fx *f = *state;
	uint32_t b, a = a_then_b(f, &b);

	assert_int_equal(playout_cancel(f->p), b);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_int_equal(say(f, a, 1, 100), -ESTALE);
	playout_done(f->p, a);
	playout_push(f->p);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_false(playout_backlog(f->p));
}

/* Interruption of the reply being said while the next is held: only the
 * older goes, the follow-up plays (the cloud bridge's replies by event id). */
static void cancel_upto_keeps_the_held_follow_up(void **state)
{
	struct fx *f = *state;
	uint32_t b, a = a_then_b(f, &b);
	int wakes = f->wakes;

	assert_true(playout_holding(f->p));
	assert_int_equal(playout_cancel_upto(f->p, a), a);
	assert_int_equal(f->wakes, wakes + 1);		/* the producer is told to push */
	assert_int_equal(ring_avail(&f->ring->r), 0);	/* a's queued audio went */
	playout_push(f->p);
	ring_holds(f, 0, 100);				/* b goes without a's done */
	assert_false(playout_holding(f->p));
	assert_int_equal(say(f, a, 1, 100), -ESTALE);	/* a's late chunk */
	assert_int_equal(say(f, b, 2, 50), 0);
	ring_holds(f, 0, 150);
	assert_int_equal(playout_current(f->p), b);
	assert_int_equal(playout_written(f->p, b), 150);
	assert_int_equal(playout_cancel_upto(f->p, a), 0);	/* twice is harmless */
	ring_holds(f, 0, 150);
}

/* The older reply's tail already in the ring goes; the newer's head stays,
 * and its samples are counted as played. */
static void cancel_upto_cuts_the_ring_at_the_newer_reply(void **state)
{
	struct fx *f = *state;
	uint32_t b, a = a_then_b(f, &b);
	size_t got;

	playout_done(f->p, a);
	ring_holds(f, 100, 100);
	assert_int_equal(take(f, 40, 1, &got), 40);
	assert_int_equal(playout_cancel_upto(f->p, a), a);
	ring_holds(f, 0, 100);
	assert_int_equal(take(f, 160, 2, &got), 100);
	assert_int_equal(got, 100);
	assert_int_equal(playout_played(f->p, b), 100);
}

/* Up to the current reply is a whole cancel, as playout_cancel(). */
static void cancel_upto_the_current_reply_cancels_all(void **state)
{
	struct fx *f = *state;
	uint32_t b, a = a_then_b(f, &b);

	assert_int_equal(playout_cancel_upto(f->p, b), b);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_int_equal(say(f, b, 2, 100), -ESTALE);
	assert_int_equal(say(f, a, 1, 100), -ESTALE);
	playout_push(f->p);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_false(playout_holding(f->p));
	assert_int_equal(playout_cancel_upto(f->p, b), 0);
}

static void cancel_now(void *arg)
{
	struct fx *f = arg;

	playout_cancel(f->p);
}

/*
 * The main loop cancels after the thread checked its reply was live and
 * before its samples land: they are in the ring after the cancel's flush,
 * and the pacer must flush them, not play them.
 */
static void audio_that_raced_a_cancel_is_flushed_never_played(void **state)
{
	struct fx *f = *state;
	size_t got;
	uint32_t a = playout_begin(f->p);

	f->ring->before_write = cancel_now;
	f->ring->arg = f;
	assert_int_equal(say(f, a, 1, 400), 0);
	assert_int_equal(ring_avail(&f->ring->r), 400);	/* landed after the flush */
	assert_int_equal(take(f, FRAME, 1, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(ring_avail(&f->ring->r), 0);

	/* The next reply plays whole, and only it. */
	uint32_t b = playout_begin(f->p);
	assert_int_equal(say(f, b, 2, 200), 0);
	assert_int_equal(take(f, FRAME, 2, &got), FRAME);
	assert_int_equal(take(f, FRAME, 2, &got), 40);
	assert_int_equal(got, 40);
	assert_int_equal(playout_played(f->p, b), 200);
}

/*
 * What the pacer took of the current reply, exactly: a frame that holds
 * the end of the reply before it counts only its own part, a short last
 * frame counts what it had, nothing is counted after a barge-in.
 */
static void played_samples_are_exact_across_a_barge_in(void **state)
{
	struct fx *f = *state;
	size_t got;
	uint32_t a = playout_begin(f->p);

	assert_int_equal(say(f, a, 1, 250), 0);
	playout_done(f->p, a);
	uint32_t b = playout_begin(f->p);
	assert_int_equal(say(f, b, 2, 1000), 0);
	assert_int_equal(playout_written(f->p, b), 1000);
	assert_int_equal(playout_played(f->p, a), 0);	/* only the current one */

	take(f, FRAME, 1, &got);
	assert_int_equal(playout_played(f->p, b), 0);
	assert_int_equal(take(f, FRAME, 2, &got), 70);	/* 90 of a, 70 of b */
	assert_int_equal(playout_played(f->p, b), 70);
	take(f, FRAME, 2, &got);
	assert_int_equal(playout_played(f->p, b), 230);

	/* Barge-in: what was heard is read first, then the reply goes. */
	assert_int_equal(playout_cancel(f->p), b);
	assert_int_equal(playout_played(f->p, b), 0);
	assert_int_equal(take(f, FRAME, 2, &got), 0);
	assert_int_equal(say(f, b, 2, 500), -ESTALE);

	uint32_t c = playout_begin(f->p);
	assert_int_equal(playout_played(f->p, c), 0);
	assert_int_equal(say(f, c, 3, 100), 0);
	assert_int_equal(take(f, FRAME, 3, &got), 100);	/* a short frame: 100, not 160 */
	assert_int_equal(playout_played(f->p, c), 100);
	take(f, FRAME, 3, &got);
	assert_int_equal(playout_played(f->p, c), 100);
}

/* The main loop learns of the first audio from the playout, once a reply. */
static void first_audio_is_reported_once_per_reply(void **state)
{
	struct fx *f = *state;
	uint32_t a = playout_begin(f->p);

	assert_int_equal(say(f, a, 1, 10), 0);
	assert_int_equal(say(f, a, 1, 10), 0);
	assert_int_equal(f->nfirst, 0);			/* on the main loop, not the thread */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->nfirst, 1);
	assert_int_equal(f->first[0], a);
	assert_int_equal(say(f, a, 1, 10), 0);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->nfirst, 1);

	/* A reply cancelled before the main loop ran: nothing to report. */
	uint32_t b = playout_begin(f->p);
	assert_int_equal(say(f, b, 2, 10), 0);
	playout_cancel(f->p);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->nfirst, 1);

	uint32_t c = playout_begin(f->p);
	assert_int_equal(say(f, c, 3, 10), 0);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->nfirst, 2);
	assert_int_equal(f->first[1], c);
}

/*
 * A call reading in batches sends audio that comes after a pause in a
 * reply at once: the main loop hears of audio that came into an empty
 * ring, and only of that.
 */
static void audio_into_an_empty_ring_is_reported(void **state)
{
	struct fx *f = *state;
	uint32_t a = playout_begin(f->p);
	size_t got;

	assert_int_equal(say(f, a, 1, FRAME), 0);
	assert_int_equal(f->refills, 0);		/* on the main loop */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->refills, 1);
	assert_int_equal(say(f, a, 1, FRAME), 0);	/* the ring held audio: nothing */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->refills, 1);
	assert_int_equal(take(f, 2 * FRAME, 1, &got), 2 * FRAME);
	assert_int_equal(say(f, a, 1, 10), 0);		/* the reply went on after a pause */
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->refills, 2);

	/* A cancelled reply's audio never enters: nothing to send. */
	take(f, FRAME, 1, &got);
	playout_cancel(f->p);
	assert_int_equal(say(f, a, 1, 10), -ESTALE);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	assert_int_equal(f->refills, 2);
}

/*
 * A TTS socket is left unread on a tick only while the reply has 200 ms
 * unplayed in the ring (tts_ws.c); a cancelled reply never counts.
 */
static void a_reply_is_well_ahead_with_200_ms_unplayed(void **state)
{
	struct fx *f = *state;
	uint32_t a = playout_begin(f->p);
	size_t got;

	assert_false(playout_well_ahead(f->p, 8000));
	assert_int_equal(say(f, a, 1, 1599), 0);
	assert_true(playout_may_wait(f->p, 8000));
	assert_false(playout_well_ahead(f->p, 8000));
	assert_int_equal(say(f, a, 1, 1), 0);
	assert_true(playout_well_ahead(f->p, 8000));
	assert_false(playout_well_ahead(f->p, 16000));	/* 100 ms at 16 kHz */
	take(f, FRAME, 1, &got);
	assert_false(playout_well_ahead(f->p, 8000));
	assert_int_equal(say(f, a, 1, FRAME), 0);
	assert_true(playout_well_ahead(f->p, 8000));
	playout_cancel(f->p);
	assert_false(playout_may_wait(f->p, 8000));	/* the next reply's audio is read */
	assert_false(playout_well_ahead(f->p, 8000));
}

/* Issue item 4: a 1-byte chunk first, into a reply with no memory yet
 * (no arithmetic on a NULL pointer, UBSan), is kept for the next. */
static void a_one_byte_chunk_is_kept_for_the_next(void **state)
{
	struct fx *f = *state;
	const uint8_t one[] = { 0x34 }, three[] = { 0x12, 0x78, 0x56 };
	uint32_t a = playout_begin(f->p);
	int16_t out[FRAME];

	assert_int_equal(playout_audio(f->p, a, one, 0), 0);
	assert_int_equal(playout_audio(f->p, a, one, 1), 0);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	assert_int_equal(playout_audio(f->p, a, three, 3), 0);
	assert_int_equal(playout_read(f->p, out, FRAME), 2);
	assert_int_equal((uint16_t)out[0], 0x1234);
	assert_int_equal((uint16_t)out[1], 0x5678);
}

/* Issue item 4: however a provider cuts its bytes (1-byte and odd-sized
 * chunks too), the samples are the bytes, never shifted by one. */
static void audio_is_the_same_however_the_chunks_are_cut(void **state)
{
	uint8_t bytes[1001];
	(void)state;

	for (size_t i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7 + 3);
	for (size_t step = 1; step < 40; step++) {
		struct fx *f = fx_new(4096);
		uint32_t a = playout_begin(f->p);
		int16_t out[600];
		for (size_t i = 0; i < sizeof(bytes); i += step)
			assert_int_equal(playout_audio(f->p, a, bytes + i, sizeof(bytes) - i < step ?
						       sizeof(bytes) - i : step), 0);
		assert_int_equal(playout_read(f->p, out, 600), sizeof(bytes) / 2);
		assert_memory_equal(out, bytes, sizeof(bytes) - 1);
		void *pf = f;
		fx_teardown(&pf);
	}
}

/* A reply longer than the ring waits, and goes in as the pacer makes room. */
static void a_long_reply_waits_for_ring_space(void **state)
{
	struct fx *f = fx_new(256);
	uint32_t a = playout_begin(f->p);
	size_t got, total = 0;
	(void)state;

	assert_int_equal(say(f, a, 1, 1000), 0);
	playout_done(f->p, a);
	assert_true(playout_backlog(f->p));
	for (int i = 0; i < 20 && total < 1000; i++) {
		int wakes = f->wakes;
		total += take(f, FRAME, 1, &got);
		assert_int_equal(f->wakes, wakes + playout_backlog(f->p));
		playout_push(f->p);	/* the producer's thread, woken */
	}
	assert_int_equal(total, 1000);
	assert_int_equal(playout_played(f->p, a), 1000);
	assert_false(playout_backlog(f->p));
	void *pf = f;
	fx_teardown(&pf);
}

/* After the call closes it, a producer still attached writes nothing. */
static void nothing_enters_after_close(void **state)
{
	struct fx *f = fx_new(256);
	uint32_t a = playout_begin(f->p);
	(void)state;

	playout_close(f->p);
	assert_int_equal(say(f, a, 1, 100), -ESTALE);
	playout_done(f->p, a);
	playout_push(f->p);
	assert_int_equal(ring_avail(&f->ring->r), 0);
	playout_detach(f->p);
	event_base_free(f->base);
	free(f->ring);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_follow_up_waits_for_the_earlier_done,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_follow_up_goes_when_the_earlier_context_is_lost,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(late_chunks_of_a_cancelled_context_are_dropped,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_cancelled_follow_up_never_enters,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(audio_that_raced_a_cancel_is_flushed_never_played,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(played_samples_are_exact_across_a_barge_in,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(first_audio_is_reported_once_per_reply,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(audio_into_an_empty_ring_is_reported,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_reply_is_well_ahead_with_200_ms_unplayed,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_one_byte_chunk_is_kept_for_the_next,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cancel_upto_keeps_the_held_follow_up,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cancel_upto_cuts_the_ring_at_the_newer_reply,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cancel_upto_the_current_reply_cancels_all,
						fx_setup, fx_teardown),
		cmocka_unit_test(audio_is_the_same_however_the_chunks_are_cut),
		cmocka_unit_test(a_long_reply_waits_for_ring_space),
		cmocka_unit_test(nothing_enters_after_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * playout.h - the agent's outbound audio of one call, whatever produces it.
 *
 * Owns: the replies (contexts) on their way to the caller: a provider's
 * decoded PCM as it comes, its order into the agent ring, the flush of a
 * cancelled reply's audio, which reply the pacer's samples belonged to, and
 * the moment each reply's first audio arrived. Every TTS client and cloud
 * bridge feeds one; none of this is any provider's.
 *
 * Threads: one, the worker's main loop. Contexts are begun, cancelled and
 * read by the call and the pacer; audio and "done" come from the provider's
 * socket hooks (playout_audio, playout_done, playout_push), which run on
 * the same loop (ws.h). While a call runs, the ring is read and flushed only
 * through this module, and a reply's audio enters it only through this
 * module: it mirrors the ring's positions to tell whose samples the pacer
 * took. (Engines without replies, echo and playback, write the ring
 * themselves: no context, nothing to count.)
 *
 * Rules: a reply that follows one not cancelled is held until the earlier
 * one's done has come (or its connection is lost) and its audio is in the
 * ring, so a sentence said before a tool call is never cut by the answer
 * after it. Audio of a cancelled reply never enters the ring after the
 * cancel; what raced the cancel in is flushed before the pacer plays.
 *
 * Lifetime: the call owns it; a producer whose hooks may outlive the call
 * (a websocket is released later than it is closed) attaches, and the
 * memory goes when the last of them is gone. Fails: only playout_new()
 * (-errno); audio that cannot be kept is dropped with an error code.
 */
#ifndef VG_PLAYOUT_H
#define VG_PLAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct playout;
struct ring;

/* Bytes of one reply waiting for ring space: minutes, far past any reply. */
#define PLAYOUT_WAIT_MAX (16u << 20)

/* ---- the call (owner), main loop ---- */

/* Empties ring (whose only consumer this becomes). 0 or -errno. */
int playout_new(struct playout **out, struct event_base *base, struct ring *ring);

/* No context is live any more, no event follows; frees once no producer
 * is attached. NULL is fine. */
void playout_close(struct playout *p);

/* The engine: fn(arg, ctx) when the first audio of the current ctx has come. */
void playout_on_first_audio(struct playout *p, void (*fn)(void *arg, uint32_t ctx),
			    void *arg);

/* The call's transport: fn(arg) after a reply is cancelled, so audio the
 * peer buffers (Twilio) is dropped there too. */
void playout_on_cancel(struct playout *p, void (*fn)(void *arg), void *arg);

/* The call: fn(arg) soon after (as first audio) a reply's audio comes into
 * an empty ring, so a call reading in batches sends it at once. */
void playout_on_refill(struct playout *p, void (*fn)(void *arg), void *arg);

/* ---- a producer, main loop ---- */

/*
 * Keeps p alive until playout_detach(); wake(arg) is called on the main
 * loop when the producer should call playout_push() (ring space
 * freed, a connection lost). One producer at a time.
 */
void playout_attach(struct playout *p, void (*wake)(void *arg), void *arg);
void playout_detach(struct playout *p);		/* NULL is fine */

/* A new reply; returns its context number (never 0). */
uint32_t playout_begin(struct playout *p);

/* The reply begun last (0 after close; not a live one after a cancel). */
uint32_t playout_current(const struct playout *p);

/*
 * Stops the current reply at once: none of its audio plays from now on
 * (the ring is flushed). Returns the context cancelled, 0 if there was
 * none (nothing begun, or cancelled already).
 */
uint32_t playout_cancel(struct playout *p);

/*
 * Stops the replies up to ctx (their audio in the ring and waiting goes)
 * while a newer one, held behind them, survives and goes next. ctx at or
 * past the current reply: playout_cancel(). Returns the newest context
 * cancelled, 0 if none was live. The producer is woken to push. The ring
 * knows where only its newest reply began: a reply between ctx and that
 * one, were it in the ring too, would go with the older ones.
 */
uint32_t playout_cancel_upto(struct playout *p, uint32_t ctx);

/* A reply is held behind an earlier one that is still going into the
 * ring: one more begun now would replace the held one (two at most). */
bool playout_holding(const struct playout *p);

/* The contexts begun so far get no more audio nor done (their connection
 * died): a reply waiting behind one of them may go. */
void playout_lost(struct playout *p);

/* Samples of ctx put into the ring, and taken by the pacer; 0 unless ctx is
 * the current context. */
uint64_t playout_written(const struct playout *p, uint32_t ctx);
uint64_t playout_played(const struct playout *p, uint32_t ctx);

/* Audio of a live reply waits for ring space. */
bool playout_backlog(const struct playout *p);

/*
 * The ring holds two 20 ms frames (at rate) of the current reply not yet
 * played: audio that comes before the next tick would only play after
 * it, so its producer's socket may wait for that tick (ws_loop_poll).
 */
bool playout_may_wait(const struct playout *p, int rate);

/*
 * The ring holds 200 ms of the current reply not yet played: enough for
 * several late ticks, so its producer's socket need not even be read on
 * this one (on a reply that came faster than it plays, most ticks).
 */
bool playout_well_ahead(const struct playout *p, int rate);

/* ---- the producer (its socket hooks, on the main loop) ---- */

/*
 * n bytes of little-endian 16-bit PCM of ctx, any n (a split sample's
 * byte waits for the next call). 0, or -ESTALE (ctx is not live: cancelled,
 * older than a reply already waiting, or closed), -EMSGSIZE or -ENOMEM
 * (dropped).
 */
int playout_audio(struct playout *p, uint32_t ctx, const uint8_t *bytes, size_t n);

/* ctx will get no more audio. */
void playout_done(struct playout *p, uint32_t ctx);

/* Moves what fits of the waiting audio into the ring. */
void playout_push(struct playout *p);

/* ---- the pacer, main loop ---- */

/* Every tick, before anything looks at the ring: flushes stale audio and
 * wakes the producer if audio waits for space. */
void playout_tick(struct playout *p);

/*
 * Takes up to n samples from the ring (stale ones flushed first), counting
 * those of the current reply; returns how many. s[returned..n) is silence.
 */
size_t playout_read(struct playout *p, int16_t *s, size_t n);

#endif

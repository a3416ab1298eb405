/*
 * wrk_call.c - one call: the runtime every transport shares (call_rt.h:
 * engine, pacer, limits, slot, record, end) and the AudioSocket transport:
 * read and check frames, pace agent audio out, end cleanly.
 *
 * Reading: whatever the socket has is appended to one reassembly buffer
 * and parsed frame by frame, so frames split across reads and several
 * frames per read are the same case. Each header is checked before its
 * body is awaited (audiosocket.c).
 *
 * Writing: only audio and hangup frames, each built whole and handed to a
 * single send(). If the kernel takes part of a frame (the peer stopped
 * reading), the rest waits in an output queue that is bounded; past the
 * bound the call ends rather than buffer without limit.
 *
 * Pacing: the caller's frames are the clock's wake-ups (pacer.h). After
 * a read, whatever outbound frame is due goes out on the same wake-up, so
 * a steady call costs one wake-up per frame; the pacer's timer only runs
 * while the caller is quiet, and the call's limits are checked on those
 * same wake-ups rather than on a timer of their own.
 *
 * Batches: while the agent is silent and the engine needs no caller frame
 * on its own (engine.h read_batch_ms), the socket is not watched and the
 * pacer stops; a timer has the transport read whatever came once per
 * batch instead (call_rt.h hold, read). A caller talking to a silent agent
 * then costs a wake-up per batch, not per frame. Agent audio
 * (call_play_now) or an engine that wants frames one by one again ends
 * the batches. On AudioSocket only with [call] send_silence = no (else a
 * silence frame goes every tick anyway, unless the kernel paces it:
 * below), and then a silence frame goes once a second, so that
 * AudioSocket() (2 s) and the trunk's RTP timeout stay satisfied; Twilio
 * buffers what it plays and needs nothing.
 * A transport whose peer plays from a buffer of its own (Twilio, call_rt.h
 * holds) goes on in batches while the agent speaks: each batch is one
 * pacer slot, which tops the peer's buffer up, as long as the peer holds
 * enough to play until the next; agent audio after silence is sent at once.
 * AudioSocket does so too when the kernel paces its socket ([call]
 * kernel_pacing): the socket's unsent frames are that buffer, and TCP
 * sends one every 20 ms (kp_pace, as_kpace.h). With send_silence = yes
 * the silence between replies goes that way too while no reply is near,
 * and the caller's frames are read in batches then.
 *
 * Ending: call_end() may be reached from inside any callback, including
 * the engine's; it only marks the call and arms a zero-delay event, and
 * that event tears the call down once the stack has unwound.
 */
#include "call.h"
#include "call_rt.h"

#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/booking/rec_put.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "as_kpace.h"
#include "context.h"
#include "breaker.h"
#include "engine.h"
#include "pacer.h"
#include "playout.h"
#include "worker.h"
#include "wrk_record.h"
#include "ws.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "AudioSocket samples are little-endian; add byte swapping for this target"
#endif

#define PACE_MS 20
#define PACER_MAX_CATCHUP 3		/* frames sent for one late wake-up */
#define OUTQ_MAX (64 * 1024)		/* ~4 s of 8 kHz audio the peer is not reading */
#define CALL_IN_BUF (AS_HDR_LEN + AS_MAX_PAYLOAD)
#define KEEPALIVE_NS NS_PER_S		/* silence suppressed: a frame a second */
/*
 * Kernel pacing: what the socket holds unsent past the next slot (cover
 * for a worker woken late), and the 1 ms silent message that starts a run
 * into an empty socket, whose slot the kernel shortens instead of the
 * first frame's (as_kpace.h).
 */
#define KPACE_LEAD_MS 40
#define KPACE_LEADIN_DIV 20
#define KPACE_LINGER_NS (500 * NS_PER_MS)	/* the most an ending call waits for it */

enum phase { PH_UUID, PH_FIRST_AUDIO, PH_RUNNING };

struct call {
	struct worker *w;
	const struct conf *conf;
	const struct call_transport *tp;
	void *tp_state;
	int fd;				/* AudioSocket's; -1 for another transport */
	uint64_t seq;
	enum phase phase;
	char uuid[AS_UUID_STR_LEN + 1];
	struct call_context ctx;
	json_t *vars;			/* an outbound call's variables (call_rt_set_vars), or NULL */

	const struct engine_ops *eng;
	void *eng_state;
	unsigned down;			/* provider stages down at start (breaker.h) */
	int rate;
	int frame_samples;
	int16_t *frame;			/* one outbound frame of samples */
	uint8_t *frame_wire;		/* the same, encoded */

	struct event *rd_ev, *wr_ev, *check_ev, *end_ev;
	struct event *batch_ev;		/* reads in batches (see the header) */
	bool batching;
	int batch_ms;
	int64_t batch_rec;		/* the recording has the silence up to here */
	struct pacer *pacer;
	struct playout *playout;	/* the outbound ring's reader: whose samples */
	struct wrk_record *rec;		/* NULL: not recorded */

	uint8_t *in;
	size_t inlen;
	uint8_t *outq;
	size_t outq_len;

	int64_t start_mono, last_rx_mono, start_real;
	int64_t last_tx_mono;		/* the last frame sent */
	bool tx_idle;			/* it was silence: no agent audio was queued */
	bool tx_voice;			/* it carried agent audio */
	bool kpace_ready;		/* the kernel paces what is written ahead (as_kpace.h) */
	bool kpace_paused;		/* frames leave as written (kp_rate) */
	int64_t linger_from;		/* ending: waiting for the kernel to send it all */
	uint64_t frames_in, frames_out, dtmf;

	bool hangup_after_playout;
	bool ended;
	bool send_hangup;
	enum call_outcome outcome;
	char reason[160];
};

#define call_end call_rt_end	/* call_rt.h: ends the call, deferred */

static void batch_maybe(struct call *c);
static void batch_stop(struct call *c);
static void pace_slots(struct call *c, uint64_t n);
static const struct call_transport audiosocket, audiosocket_kpaced;

/* ---- engine API ---- */

const struct conf *call_conf(const struct call *c) { return c->conf; }
const char *call_uuid(const struct call *c) { return c->uuid; }
const char *call_did(const struct call *c) { return c->ctx.did; }
const char *call_cli(const struct call *c) { return c->ctx.cli; }
json_t *call_vars(const struct call *c) { return c->vars; }
struct worker *call_worker(const struct call *c) { return c->w; }
int64_t call_start_real_ns(const struct call *c) { return c->start_real; }
uint64_t call_frames_out(const struct call *c) { return c->frames_out; }
int call_rate(const struct call *c) { return c->rate; }
int call_frame_samples(const struct call *c) { return c->frame_samples; }
struct ring *call_ring_in(struct call *c) { return c->w->ring_in; }
struct ring *call_ring_out(struct call *c) { return c->w->ring_out; }
struct playout *call_playout(struct call *c) { return c->playout; }
void *call_engine_state(const struct call *c) { return c->eng_state; }
void *call_rt_tp(const struct call *c) { return c->tp_state; }
bool call_rt_begun(const struct call *c) { return c->phase != PH_UUID; }
bool call_rt_ended(const struct call *c) { return c->ended; }
void call_set_engine_state(struct call *c, void *state) { c->eng_state = state; }
unsigned call_down_stages(const struct call *c) { return c->down; }

#define REPHASE_MIN_GAP_NS (2 * NS_PER_MS)

void call_play_now(struct call *c)
{
	int64_t at = mono_ns();

	if (!c->pacer || !c->tx_idle)
		return;		/* audio is playing: its rhythm stays */
	if (c->batching && c->tp->holds) {
		event_active(c->batch_ev, EV_TIMEOUT, 0);	/* the batch's slot sends it */
		return;
	}
	if (c->batching)
		batch_stop(c);
	if (at < c->last_tx_mono + REPHASE_MIN_GAP_NS)
		at = c->last_tx_mono + REPHASE_MIN_GAP_NS;
	pacer_rephase(c->pacer, at);
}

void call_hangup_after_playout(struct call *c, const char *reason)
{
	if (c->hangup_after_playout)
		return;
	c->hangup_after_playout = true;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

/* ---- slot publishing (this worker's own slot; tools read it) ---- */

static void publish_start(struct call *c)
{
	struct slot *s = c->w->slot;

	atomic_store_explicit(&c->w->stats->call_frames_in, 0, memory_order_relaxed);
	atomic_store_explicit(&c->w->stats->call_frames_out, 0, memory_order_relaxed);
	slot_write_begin(s);
	s->info.state = SLOT_BUSY;
	s->info.start_real_ns = real_ns();
	s->info.start_mono_ns = c->start_mono;
	s->info.rate = 0;
	snprintf(s->info.uuid, sizeof(s->info.uuid), "%s", c->uuid);
	snprintf(s->info.did, sizeof(s->info.did), "%s", c->ctx.did);
	snprintf(s->info.cli, sizeof(s->info.cli), "%s", c->ctx.cli);
	snprintf(s->info.engine, sizeof(s->info.engine), "%s", c->eng->name);
	slot_write_end(s);
}

static void publish_rate(struct call *c)
{
	slot_write_begin(c->w->slot);
	c->w->slot->info.rate = (uint32_t)c->rate;
	slot_write_end(c->w->slot);
}

static void count_frame(struct call *c, bool out)
{
	struct wrk_stats *s = c->w->stats;

	if (out) {
		c->frames_out++;
		atomic_fetch_add_explicit(&s->frames_out, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->call_frames_out, 1, memory_order_relaxed);
	} else {
		c->frames_in++;
		atomic_fetch_add_explicit(&s->frames_in, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s->call_frames_in, 1, memory_order_relaxed);
	}
}

/* ---- writing ---- */

static int outq_push(struct call *c, const uint8_t *p, size_t n)
{
	if (c->outq_len + n > OUTQ_MAX)
		return -ENOBUFS;
	memcpy(c->outq + c->outq_len, p, n);
	c->outq_len += n;
	if (!event_pending(c->wr_ev, EV_WRITE, NULL))
		event_add(c->wr_ev, NULL);
	return 0;
}

/* Sends one whole frame with one send(), queueing what the kernel refuses. */
static int send_frame(struct call *c, const uint8_t *wire, size_t n)
{
	if (c->outq_len)
		return outq_push(c, wire, n);	/* keep frames in order */
	/* One segment each (MSG_EOR): the kernel may pace them (as_kpace.h). */
	ssize_t sent = send(c->fd, wire, n, MSG_NOSIGNAL | MSG_DONTWAIT | MSG_EOR);
	if (sent < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		sent = 0;
	}
	if ((size_t)sent < n)
		return outq_push(c, wire + sent, n - (size_t)sent);
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	(void)what;

	ssize_t sent = send(fd, c->outq, c->outq_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent < 0) {
		if (errno != EAGAIN && errno != EINTR)
			call_end(c, CALL_OUTCOME_OK, false, "caller gone (%s)", strerror(errno));
		return;
	}
	memmove(c->outq, c->outq + sent, c->outq_len - (size_t)sent);
	c->outq_len -= (size_t)sent;
	if (c->outq_len)
		event_add(c->wr_ev, NULL);
}

/* n samples to the caller; the recording is the caller's business. */
static int send_pcm(struct call *c, const int16_t *s, int n)
{
	size_t len = as_encode(c->frame_wire, (uint8_t)as_rate_kind(c->rate), s,
			       (uint16_t)(n * 2));
	int rc = send_frame(c, c->frame_wire, len);

	if (rc == 0) {
		count_frame(c, true);
		c->last_tx_mono = mono_ns();
	}
	return rc;
}

static int send_audio(struct call *c, const int16_t *s, int n)
{
	int rc = send_pcm(c, s, n);

	if (rc == 0)
		wrk_record_out(c->rec, s, (size_t)n);
	return rc;
}

/* ---- pacing ---- */

/*
 * The caller's silence and the call's length. Once a second on check_ev
 * until the pacer runs, then on the pacer's wake-ups, which come whether
 * the caller sends or not: a running call has no timer of its own.
 */
static void check_limits(struct call *c, int64_t now)
{
	if (now - c->last_rx_mono > c->conf->idle_timeout * NS_PER_S)
		call_end(c, CALL_OUTCOME_FAILED, c->phase != PH_UUID,
			 "no frame from the caller for %d s", c->conf->idle_timeout);
	else if (now - c->start_mono > c->conf->max_duration * NS_PER_S)
		call_end(c, CALL_OUTCOME_OK, true, "call reached max_duration (%d s)",
			 c->conf->max_duration);
}

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	check_limits(arg, mono_ns());
}


/* c->frame, silent. */
static int16_t *silent_frame(struct call *c)
{
	return memset(c->frame, 0, (size_t)c->frame_samples * sizeof(int16_t));
}

/*
 * n samples of silence the caller heard without our sending it: the
 * recording's agent side keeps pace with the caller's as if it was sent.
 */
static void record_silence(struct call *c, size_t n)
{
	if (!c->rec)
		return;
	silent_frame(c);
	while (n) {
		size_t k = n < (size_t)c->frame_samples ? n : (size_t)c->frame_samples;
		wrk_record_out(c->rec, c->frame, k);
		n -= k;
	}
}

/* A silence frame while reading in batches; the batch's time records it. */
static int send_keepalive(struct call *c)
{
	return send_pcm(c, silent_frame(c), c->frame_samples);
}

/* AudioSocket's 20 ms slot: a frame of agent audio, silence, or nothing. */
static int as_pace(struct call *c, bool *drained)
{
	size_t avail = ring_avail(c->w->ring_out);

	*drained = false;
	if (avail >= (size_t)c->frame_samples) {
		playout_read(c->playout, c->frame, (size_t)c->frame_samples);
		c->tx_voice = true;
		return send_audio(c, c->frame, c->frame_samples);
	}
	if (c->hangup_after_playout) {
		/* The tail of the last utterance, then the hangup frame. */
		if (avail) {
			playout_read(c->playout, c->frame, avail);
			send_audio(c, c->frame, (int)avail);
		}
		*drained = true;
		return 0;
	}
	*drained = !avail;
	if (!c->eng->silence_when_idle)
		return 0;
	/*
	 * Silence not sent: after one frame of it, so that the agent's audio
	 * never stops on a voiced frame (which the far end's concealment of
	 * lost packets would stretch), then once a second.
	 */
	if (!avail && !c->conf->send_silence && !c->tx_voice &&
	    mono_ns() - c->last_tx_mono < KEEPALIVE_NS) {
		if (!c->batching)	/* a batch's slot (kp_pace): its clock records it */
			record_silence(c, (size_t)c->frame_samples);
		return 0;
	}
	c->tx_voice = avail > 0;
	/* The end of an utterance rarely fills a frame: pad it with silence. */
	silent_frame(c);
	if (avail)
		playout_read(c->playout, c->frame, avail);
	else if (c->batching)	/* the keep-alive of a batch's slot: likewise */
		return send_pcm(c, c->frame, c->frame_samples);
	return send_audio(c, c->frame, c->frame_samples);
}

/* Frames written to the socket that have not left yet; -1: unknown. */
static int kp_queued(struct call *c)
{
	size_t fb = AS_HDR_LEN + (size_t)c->frame_samples * 2;
	int n = as_kpace_unsent(c->fd);

	return n < 0 ? -1 : (int)(((size_t)n + fb - 1) / fb);
}

/* Frames the socket should hold after a top-up: to the next pace and a lead past it. */
static int kp_want(struct call *c)
{
	int ms = c->eng->read_batch_ms(c);	/* the next pace's distance */

	return ((ms > PACE_MS ? ms : PACE_MS) + KPACE_LEAD_MS) / PACE_MS;
}

/* The 1 ms message a run into an empty socket starts with, from s (the defines above). */
static int send_leadin(struct call *c, const int16_t *s)
{
	int n = c->frame_samples / KPACE_LEADIN_DIV;
	size_t len = as_encode(c->frame_wire, (uint8_t)as_rate_kind(c->rate), s,
			       (uint16_t)(n * 2));
	int rc = send_frame(c, c->frame_wire, len);

	if (rc == 0)
		wrk_record_out(c->rec, s, (size_t)n);
	return rc;
}

/* c->frame: the agent's next frame (voice), or silence. */
static void kp_fill(struct call *c, bool voice)
{
	if (voice)
		playout_read(c->playout, c->frame, (size_t)c->frame_samples);
	else
		silent_frame(c);
}

/*
 * A run's first frame into an empty socket, after its lead-in. Inside the
 * agent's words (the kernel takes over a reply already under way, or a
 * worker woke after the socket ran dry) the lead-in is the frame's own
 * first millisecond, so that nothing is inserted into the speech; else it
 * is silence.
 */
static int kp_send_first(struct call *c, bool voice)
{
	int n = c->frame_samples / KPACE_LEADIN_DIV;
	bool inside = voice && c->tx_voice;
	int rc;

	if (!inside && (rc = send_leadin(c, silent_frame(c))) < 0)
		return rc;
	kp_fill(c, voice);
	if (!inside)
		return send_audio(c, c->frame, c->frame_samples);
	if ((rc = send_leadin(c, c->frame)) < 0)
		return rc;
	return send_audio(c, c->frame + n, c->frame_samples - n);
}

/*
 * With send_silence = yes, silence may be written ahead like a reply's
 * frames while the agent is idle, reads are batched and no reply is near
 * (engine.h reply_near): a reply never waits behind it.
 */
static bool kp_silence_ahead(struct call *c, bool near)
{
	return c->conf->send_silence && c->eng->reply_near && !near && !c->tx_voice &&
	       !ring_avail(c->w->ring_out) && !playout_backlog(c->playout) &&
	       !c->hangup_after_playout && c->eng->read_batch_ms(c) > 0;
}

/* Silence goes on the tick while a reply is near: unpaced (kp_rate). */
static bool kp_unpaced_silence(struct call *c, bool near)
{
	return c->conf->send_silence && near && !ring_avail(c->w->ring_out);
}

/*
 * The kernel paces runs written ahead and the frames that follow them on
 * the worker's tick, which keeps the run's rhythm. Silence sent on the
 * tick while a reply is near goes as written instead, so that the reply's
 * first frame may go at once, as it would with no kernel pacing; the
 * rate rises only on the peer's next acknowledgement, well before a reply
 * comes (as_kpace.h). A refused change leaves the rate as it was.
 */
static void kp_rate(struct call *c, bool paced)
{
	size_t fb = AS_HDR_LEN + (size_t)c->frame_samples * 2;

	if (c->kpace_paused != paced)
		return;
	if ((paced ? as_kpace_enable(c->fd, fb, PACE_MS) : as_kpace_pause(c->fd)) == 0)
		c->kpace_paused = !paced;
}

/* Frames up to kp_want, the agent's (voice) or silence; a run into an empty socket is led in. */
static int kp_top_up(struct call *c, int queued, bool voice)
{
	size_t fs = (size_t)c->frame_samples;
	int rc;

	kp_rate(c, true);
	for (int want = kp_want(c); queued < want; queued++) {
		if (voice && ring_avail(c->w->ring_out) < fs)
			break;
		if (!queued) {
			rc = kp_send_first(c, voice);
		} else {
			kp_fill(c, voice);
			rc = send_audio(c, c->frame, c->frame_samples);
		}
		if (rc < 0)
			return rc;
		c->tx_voice = voice;
	}
	return 0;
}

/*
 * AudioSocket when the kernel paces (as_kpace.h): the agent's frames are
 * written up to kp_want ahead, each its own segment, and leave one per
 * 20 ms however late the worker wakes; so is the silence between replies
 * while none is near (kp_silence_ahead). What else is not the agent
 * speaking (the keep-alive, a reply's padded tail, silence while a reply
 * is near, the start before the kernel paces) goes as as_pace sends it,
 * once nothing is queued.
 */
static int kp_pace(struct call *c, bool *drained)
{
	int queued = c->outq_len ? -1 : kp_queued(c);
	bool near;	/* a reply may start before the next batch (engine.h) */

	if (queued < 0)
		return as_pace(c, drained);
	/*
	 * The kernel paces once the connection's first segments are out; a
	 * reply under way then (the greeting) goes on written ahead.
	 */
	if (!c->kpace_ready && (queued || !(c->kpace_ready = as_kpace_ready(c->fd))))
		return as_pace(c, drained);
	if (ring_avail(c->w->ring_out) >= (size_t)c->frame_samples) {
		*drained = false;
		return kp_top_up(c, queued, true);
	}
	near = c->eng->reply_near && c->eng->reply_near(c);
	if (kp_silence_ahead(c, near)) {
		*drained = true;
		return kp_top_up(c, queued, false);
	}
	if (!queued) {
		kp_rate(c, !kp_unpaced_silence(c, near));
		return as_pace(c, drained);
	}
	/* Idle if the last frame queued is silence: a reply may go at once (call_play_now). */
	*drained = !c->tx_voice && !ring_avail(c->w->ring_out);
	return 0;
}

/*
 * Batches go on while nothing is queued nor waits (a reply's first audio
 * is sent at once: call_play_now), or while the socket holds enough to
 * play until the next batch with the lead to spare.
 */
static bool kp_holds(struct call *c, int ms)
{
	int queued = c->outq_len || !c->kpace_ready ? -1 : kp_queued(c);

	if (queued < 0)
		return false;
	if (!queued)	/* silence sent every 20 ms needs the ticks */
		return !c->conf->send_silence && c->tx_idle && !ring_avail(c->w->ring_out) &&
		       !playout_backlog(c->playout) && !c->hangup_after_playout;
	return queued * PACE_MS >= ms + KPACE_LEAD_MS / 2;
}

/* One slot (20 ms, or a batch's on a peer that holds), whatever the transport. */
static int pace_one(struct call *c)
{
	bool drained = false;
	int rc;

	playout_tick(c->playout);	/* a cancelled reply's raced audio goes first */
	if (c->eng->on_tick)
		c->eng->on_tick(c);
	if (c->ended)
		return 0;
	rc = c->tp->pace(c, &drained);
	c->tx_idle = drained;
	if (rc == 0 && drained && c->hangup_after_playout) {
		char why[sizeof(c->reason)];	/* call_end() rewrites c->reason */
		memcpy(why, c->reason, sizeof(why));
		call_end(c, CALL_OUTCOME_OK, true, "%s", why);
	}
	return rc;
}

static void pace_slots(struct call *c, uint64_t n)
{
	for (uint64_t i = 0; i < n && !c->ended; i++) {
		int rc = pace_one(c);
		if (rc == -ENOBUFS)
			call_end(c, CALL_OUTCOME_FAILED, false,
				 "caller not reading audio (%d bytes queued)", OUTQ_MAX);
		else if (rc < 0)
			call_end(c, CALL_OUTCOME_OK, false, "caller gone (%s)", strerror(-rc));
	}
}

void call_rt_record_out(struct call *c, const int16_t *s, size_t n)
{
	wrk_record_out(c->rec, s, n);
}

void call_rt_record_resume(struct call *c, size_t ahead)
{
	wrk_record_out_catch_up(c->rec, ahead);
}

void call_rt_record_unplayed(struct call *c, size_t n)
{
	wrk_record_out_drop(c->rec, n);
}

bool call_rt_recording(const struct call *c)
{
	return c->rec != NULL;
}

size_t call_rt_take(struct call *c, int16_t *s, size_t n)
{
	size_t got = playout_read(c->playout, s, n);

	for (size_t f = 0; f < (got + (size_t)c->frame_samples - 1) / (size_t)c->frame_samples; f++)
		count_frame(c, true);
	if (got)
		c->last_tx_mono = mono_ns();
	return got;
}

static void on_pace(void *arg, uint64_t ticks)
{
	struct call *c = arg;
	int64_t now = mono_ns();

	check_limits(c, now);
	if (ticks > PACER_MAX_CATCHUP)
		ticks = PACER_MAX_CATCHUP;	/* never burst: late audio is dropped time */
	pace_slots(c, ticks);
	/*
	 * After the frame went: what the TTS sent since the last tick. A
	 * socket waits for the tick only while the ring holds two frames, so
	 * the next tick has its frame whatever this read brings.
	 */
	worker_beat(c->w, now);
	if (c->w->ws && !c->ended)
		ws_loop_poll(c->w->ws);
	batch_maybe(c);
}

/* ---- reading ---- */

static void on_cancel(void *arg)
{
	struct call *c = arg;

	if (!c->ended)
		c->tp->flush(c);
}

/* A reply's audio after a pause in it (its first audio: call_play_now). */
static void on_refill(void *arg)
{
	struct call *c = arg;

	if (c->batching && !c->ended)
		call_play_now(c);
}

static int first_audio(struct call *c, int rate)
{
	int rc;

	c->rate = rate;
	c->frame_samples = rate / (1000 / PACE_MS);
	c->frame = calloc((size_t)c->frame_samples, sizeof(int16_t));
	c->frame_wire = malloc(AS_HDR_LEN + (size_t)c->frame_samples * 2);
	if (!c->frame || !c->frame_wire)
		return -ENOMEM;
	publish_rate(c);
	if (c->tp == &audiosocket && c->conf->kernel_pacing && c->eng->read_batch_ms &&
	    (!c->conf->send_silence || c->eng->reply_near) &&
	    as_kpace_enable(c->fd, AS_HDR_LEN + (size_t)c->frame_samples * 2, PACE_MS) == 0)
		c->tp = &audiosocket_kpaced;
	if (conf_record_for(c->conf, c->ctx.did))	/* a failure is logged; the call goes on */
		(void)wrk_record_open(&c->rec, c->conf->recording_dir, c->uuid, rate);
	if ((rc = playout_new(&c->playout, c->w->base, c->w->ring_out)) < 0)
		return rc;
	if (c->tp->flush)
		playout_on_cancel(c->playout, on_cancel, c);
	playout_on_refill(c->playout, on_refill, c);
	if ((rc = pacer_start(&c->pacer, c->w->base, PACE_MS, on_pace, c)) < 0)
		return rc;
	event_del(c->check_ev);		/* the pacer's wake-ups check from now on */
	c->phase = PH_RUNNING;
	return c->eng->start ? c->eng->start(c) : 0;
}

/*
 * The engine for the DID; for one that uses the providers, the breakers
 * decide too: with a stage down, the call goes to [call] overflow_engine,
 * or (none configured) the engine runs without that stage (degraded).
 */
static const struct engine_ops *choose_engine(struct call *c)
{
	const struct engine_ops *e = engine_find(conf_engine_for(c->conf, c->ctx.did));
	struct brk_limits l;

	if (!e)
		panic("engine '%s' passed validation but is not registered",
		      conf_engine_for(c->conf, c->ctx.did));
	if (e != &engine_local)
		return e;
	brk_limits_from(c->conf, &l);
	c->down = brk_route(c->w->breaker, &l, mono_ns());
	if (!c->down || !c->conf->overflow_engine[0])
		return e;
	log_warn("call", c->uuid, "provider breaker open (stages 0x%x): overflow to %s", c->down,
		 c->conf->overflow_engine);
	atomic_fetch_add_explicit(&c->w->breaker->overflow_total, 1, memory_order_relaxed);
	c->down = 0;
	if (!(e = engine_find(c->conf->overflow_engine)))
		panic("overflow engine '%s' passed validation but is not registered",
		      c->conf->overflow_engine);
	return e;
}

void call_rt_set_vars(struct call *c, json_t *vars)
{
	json_decref(c->vars);
	c->vars = vars;
}

/* "; variables a, b": names only, as the values may be personal. */
static void var_names(const struct call *c, char *out, size_t len)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	out[0] = '\0';
	json_object_foreach(c->vars, k, v)
		if (n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? ", " : "; variables ", k);
}

void call_rt_begin(struct call *c, const char *uuid, const char *did, const char *cli)
{
	char names[200];

	snprintf(c->uuid, sizeof(c->uuid), "%s", uuid);
	if (did || cli) {
		snprintf(c->ctx.did, sizeof(c->ctx.did), "%s", did ? did : "");
		snprintf(c->ctx.cli, sizeof(c->ctx.cli), "%s", cli ? cli : "");
	} else {
		context_load(c->conf->context_dir, c->uuid, &c->ctx);
	}
	c->eng = choose_engine(c);
	c->phase = PH_FIRST_AUDIO;
	publish_start(c);
	var_names(c, names, sizeof(names));
	log_info("call", c->uuid, "started: did %s cli %s engine %s via %s%s",
		 c->ctx.did[0] ? c->ctx.did : "-", c->ctx.cli[0] ? c->ctx.cli : "-",
		 c->eng->name, c->tp->name, names);
}

static void on_uuid(struct call *c, const struct as_frame *f)
{
	char uuid[AS_UUID_STR_LEN + 1];

	as_uuid_format(f->payload, uuid);
	call_rt_begin(c, uuid, NULL, NULL);
}

void call_rt_audio(struct call *c, int rate, const uint8_t *pcm, size_t samples)
{
	if (c->phase == PH_FIRST_AUDIO) {
		int rc = first_audio(c, rate);
		if (rc < 0) {
			call_end(c, CALL_OUTCOME_FAILED, true, "engine %s failed to start (%s)",
				 c->eng->name, strerror(-rc));
			return;
		}
	} else if (rate != c->rate) {
		call_end(c, CALL_OUTCOME_FAILED, true, "protocol: audio rate changed from %d to %d",
			 c->rate, rate);
		return;
	}
	count_frame(c, false);
	wrk_record_in(c->rec, pcm, samples);
	/* A full ring means the engine is not consuming: newest audio is dropped. */
	ring_write(c->w->ring_in, pcm, samples);
	c->eng->on_audio(c, pcm, samples);
}

int call_rt_start(struct call *c, int rate)
{
	int rc = c->phase == PH_FIRST_AUDIO ? first_audio(c, rate) : 0;

	if (rc < 0)
		call_end(c, CALL_OUTCOME_FAILED, true, "engine %s failed to start (%s)",
			 c->eng->name, strerror(-rc));
	return rc;
}

void call_rt_set_transport(struct call *c, const struct call_transport *tp, void *tp_state)
{
	c->tp = tp;
	c->tp_state = tp_state;
}

const struct call_transport *call_rt_transport(const struct call *c)
{
	return c->tp;
}

void call_rt_dtmf(struct call *c, char digit)
{
	c->dtmf++;
	log_info("call", c->uuid, "DTMF %c", digit);
	if (c->eng->on_dtmf && c->phase == PH_RUNNING)
		c->eng->on_dtmf(c, digit);
}

void call_rt_rx(struct call *c, int64_t now, bool clock)
{
	c->last_rx_mono = now;
	/* The caller's frame is our clock's wake-up too: what is due goes now. */
	if (clock && c->pacer && !c->ended && !c->batching)
		pacer_inbound(c->pacer, now);
}

/* One parsed frame. */
static void on_frame(struct call *c, const struct as_frame *f)
{
	if (c->phase == PH_UUID && f->kind != AS_UUID) {
		call_end(c, CALL_OUTCOME_FAILED, false,
			 "protocol: frame kind 0x%02x before the UUID", f->kind);
		return;
	}
	switch (f->kind) {
	case AS_UUID:
		if (c->phase != PH_UUID)
			call_end(c, CALL_OUTCOME_FAILED, true, "protocol: second UUID frame");
		else
			on_uuid(c, f);
		return;
	case AS_DTMF:
		call_rt_dtmf(c, (char)f->payload[0]);
		return;
	case AS_HANGUP:
		call_end(c, CALL_OUTCOME_OK, false, "caller sent hangup");
		return;
	case AS_ERROR:
		call_end(c, CALL_OUTCOME_FAILED, false, "Asterisk reported error 0x%02x",
			 f->len ? f->payload[0] : 0);
		return;
	default:
		call_rt_audio(c, as_kind_rate(f->kind), f->payload, f->len / 2);
	}
}

/*
 * Asterisk writes each frame with Nagle on: its next frame waits until we
 * acknowledge this one. Linux delays that acknowledgement to ride on our
 * next frame, which is sent at once when this frame served a tick. When
 * no frame of ours went (no tick was due, or silence is not sent), the
 * caller's next frame would wait for our next one, and the caller's frames
 * would come in our rhythm, not theirs: just behind the watchdog, two
 * wake-ups each. So then the acknowledgement goes alone, at once. (Not
 * while reading in batches: nothing then waits for the caller's frames.)
 */
static void ack_now(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* Reads what the socket has and handles its frames. False: nothing came, or the call ended. */
static bool read_frames(struct call *c, int64_t *now)
{
	struct as_frame f;
	const char *why = NULL;
	size_t off = 0;
	int n = 0;

	ssize_t got = recv(c->fd, c->in + c->inlen, CALL_IN_BUF - c->inlen, 0);
	if (got == 0) {
		call_end(c, CALL_OUTCOME_OK, false, "caller hung up");
		return false;
	}
	if (got < 0) {
		if (errno != EAGAIN && errno != EINTR)
			call_end(c, CALL_OUTCOME_OK, false, "caller gone (%s)", strerror(errno));
		return false;
	}
	c->inlen += (size_t)got;
	*now = mono_ns();
	c->last_rx_mono = *now;
	while (!c->ended &&
	       (n = as_parse(c->in + off, c->inlen - off, c->conf->max_frame_ms, &f, &why)) > 0) {
		on_frame(c, &f);
		off += (size_t)n;
	}
	if (n < 0 && !c->ended) {
		call_end(c, CALL_OUTCOME_FAILED, c->phase != PH_UUID,
			 "protocol: %s (kind 0x%02x, length %u)", why, c->in[off],
			 (unsigned)(c->in[off + 1] << 8 | c->in[off + 2]));
		return false;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return !c->ended;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	uint64_t sent = c->frames_out;
	int64_t now;
	(void)what;

	if (!read_frames(c, &now))
		return;
	call_rt_rx(c, now, true);
	if (c->frames_out == sent && !c->ended)
		ack_now(fd);	/* nothing of ours carries the acknowledgement */
}

static void as_hold(struct call *c, int ms)
{
	if (ms)
		event_del(c->rd_ev);
	else
		event_add(c->rd_ev, NULL);
}

static void as_read(struct call *c)
{
	int64_t now;

	(void)read_frames(c, &now);
}

/* ---- batches (the file's header) ---- */

/* How long the caller's frames may wait now; 0: they may not. */
static int batch_wanted(struct call *c)
{
	int ms;

	if (!c->tp->hold || (!c->tp->holds && c->conf->send_silence) ||
	    c->phase != PH_RUNNING || c->ended || !c->eng->read_batch_ms)
		return 0;
	if (!c->tp->holds && (!c->tx_idle || c->hangup_after_playout || c->outq_len ||
			      ring_avail(c->w->ring_out) || playout_backlog(c->playout)))
		return 0;	/* the agent speaks: a frame every 20 ms */
	ms = c->eng->read_batch_ms(c);
	return ms > 0 && (!c->tp->holds || c->tp->holds(c, ms)) ? ms : 0;
}

/*
 * The silence the caller heard since batch_rec, into the recording's
 * agent side: by the clock, as no tick counts it while the pacer stops.
 * On a socket the kernel paces, only while it holds nothing: the frames
 * written ahead are recorded as written. (A peer that holds a buffer,
 * Twilio, is sent no silence and records none on its ticks either: the
 * recording's pairing window fills those gaps.)
 */
static void batch_record(struct call *c, int64_t now)
{
	int64_t n = (now - c->batch_rec) * c->rate / NS_PER_S;

	if (n <= 0 || !c->rec)
		return;
	if (c->tp->holds && (c->tp->pace != kp_pace || kp_queued(c) != 0)) {
		c->batch_rec = now;
		return;
	}
	record_silence(c, (size_t)n);
	c->batch_rec += n * NS_PER_S / c->rate;
}

static void batch_start(struct call *c, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	c->tp->hold(c, ms);
	pacer_pause(c->pacer);
	event_add(c->batch_ev, &tv);
	if (!c->batching)
		c->batch_rec = mono_ns();
	c->batch_ms = ms;
	c->batching = true;
}

/* Back to frame by frame; the caller rephases the pacer. */
static void batch_stop(struct call *c)
{
	batch_record(c, mono_ns());
	event_del(c->batch_ev);
	c->tp->hold(c, 0);
	c->batching = false;
}

static void batch_maybe(struct call *c)
{
	int ms;

	if (!c->batching && (ms = batch_wanted(c)) > 0)
		batch_start(c, ms);
}

static void on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	int64_t now;
	int ms;
	(void)fd; (void)what;

	c->tp->read(c);
	if (c->ended)
		return;
	now = mono_ns();
	batch_record(c, now);
	check_limits(c, now);
	if (c->tp->holds)
		pace_slots(c, 1);	/* the peer's buffer, topped up to the next batch */
	else if (c->eng->on_tick && !c->ended)
		c->eng->on_tick(c);
	if (c->ended || !c->batching)
		return;		/* or agent audio came: call_play_now ended the batches */
	worker_beat(c->w, now);
	if (c->w->ws)
		ws_loop_poll(c->w->ws);	/* a reply's audio that waited for the slot */
	if ((ms = batch_wanted(c)) <= 0) {
		batch_stop(c);
		pacer_rephase(c->pacer, now + PACE_MS * NS_PER_MS);
		return;
	}
	if (!c->tp->holds && now - c->last_tx_mono >= KEEPALIVE_NS) {
		int rc = send_keepalive(c);
		if (rc < 0) {
			call_end(c, CALL_OUTCOME_OK, false, "caller gone (%s)", strerror(-rc));
			return;
		}
	}
	if (ms != c->batch_ms) {
		event_del(c->batch_ev);
		batch_start(c, ms);
	}
}

/* ---- lifecycle ---- */

static void call_free(struct call *c)
{
	if (c->eng && c->eng->stop && c->phase == PH_RUNNING)
		c->eng->stop(c);
	playout_close(c->playout);	/* after the engine: its producers are stopped */
	pacer_stop(c->pacer);
	wrk_record_close(c->rec);
	if (c->tp && c->tp->close)
		c->tp->close(c);
	if (c->rd_ev) event_free(c->rd_ev);
	if (c->wr_ev) event_free(c->wr_ev);
	if (c->check_ev) event_free(c->check_ev);
	if (c->end_ev) event_free(c->end_ev);
	if (c->batch_ev) event_free(c->batch_ev);
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->outq);
	free(c->frame);
	free(c->frame_wire);
	json_decref(c->vars);
	free(c);
}

/*
 * Every call that got as far as its UUID leaves a record for the calls
 * table, through the booking-writer like a booking: who, how long, how it
 * ended, and whatever the engine adds (transcript, turns, latencies).
 */
static void record_call(struct call *c, const char *recording)
{
	struct call_summary sum = { 0 };
	struct rec_val v[REC_MAX_FIELDS] = { 0 };
	char err[256];
	uint64_t seq;

	if (!c->uuid[0])
		return;
	if (c->eng && c->eng->summary && c->phase == PH_RUNNING)
		c->eng->summary(c, &sum);
	v[CE_UUID] = rec_str(c->uuid);
	v[CE_DID] = rec_str(c->ctx.did[0] ? c->ctx.did : NULL);
	v[CE_CLI] = rec_str(c->ctx.cli[0] ? c->ctx.cli : NULL);
	v[CE_ENGINE] = rec_str(c->eng ? c->eng->name : "none");
	v[CE_START_MS] = rec_int(c->start_real / NS_PER_MS);
	v[CE_END_MS] = rec_int(real_ns() / NS_PER_MS);
	v[CE_OUTCOME] = rec_str(sum.outcome[0] ? sum.outcome :
				c->outcome == CALL_OUTCOME_FAILED ? "failed" : "completed");
	v[CE_TURNS] = rec_int(sum.turns);
	v[CE_BARGE_INS] = rec_int(sum.barge_ins);
	v[CE_LATENCY] = rec_str(sum.latency_json);
	v[CE_TRANSCRIPT] = rec_str(sum.transcript_json);
	v[CE_RECORDING] = rec_str(recording[0] ? recording : NULL);
	if (rec_put(region_recq(c->w->region.base, &c->w->hdr), c->w->bell, REC_CALL_END, v, &seq,
		    err, sizeof(err)) < 0)
		log_warn("call", c->uuid, "call record not kept: %s", err);
	free(sum.latency_json);
	free(sum.transcript_json);
}

/*
 * A paced socket still holds the reply's last frames when the call ends:
 * the hangup frame goes behind them, and the socket is closed once the
 * caller has them all, since a close with the caller's frames unread
 * resets the connection and drops what it held (as_kpace.h). True: on_end
 * comes again.
 */
static bool kp_linger(struct call *c)
{
	struct timeval tv = { 0, PACE_MS / 2 * 1000 };
	int64_t now = mono_ns();

	if (c->tp != &audiosocket_kpaced || (!c->send_hangup && !c->linger_from))
		return false;	/* the caller ended it: nobody is listening */
	if (c->send_hangup) {
		c->tp->hangup(c);
		c->send_hangup = false;
	}
	if (!c->linger_from)
		c->linger_from = now;
	if (as_kpace_unacked(c->fd) <= 0 || now - c->linger_from > KPACE_LINGER_NS)
		return false;
	event_add(c->end_ev, &tv);
	return true;
}

static void on_end(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	struct worker *w = c->w;
	enum call_outcome o = c->outcome;
	(void)fd; (void)what;

	if (kp_linger(c))
		return;
	if (c->send_hangup && c->tp->hangup)
		c->tp->hangup(c);
	/* A peer's bad input is a warning (STYLE.md); a normal end is news. */
	char id[AS_UUID_STR_LEN + 1];
	if (c->uuid[0])
		memcpy(id, c->uuid, sizeof(id));
	else	/* no UUID yet: name the connection by its sequence number */
		snprintf(id, sizeof(id), "#%llu", (unsigned long long)c->seq);
	log_msg(o == CALL_OUTCOME_OK ? LOG_LVL_INFO : LOG_LVL_WARN, "call", id,
		"ended: %s; %.1f s, frames in %llu out %llu, rate %d",
		 c->reason, (double)(mono_ns() - c->start_mono) / NS_PER_S,
		 (unsigned long long)c->frames_in, (unsigned long long)c->frames_out, c->rate);
	/* The WAV is whole before its path travels to the calls row. */
	char recording[REC_RECORDING_MAX + 1] = "";
	if (c->rec && (size_t)snprintf(recording, sizeof(recording), "%s",
				       wrk_record_path(c->rec)) >= sizeof(recording)) {
		log_warn("rec", c->uuid, "recording path longer than the calls row keeps");
		recording[0] = '\0';
	}
	wrk_record_close(c->rec);
	c->rec = NULL;
	record_call(c, recording);
	/* Nothing the next call reads may be left from this one. */
	ring_flush(w->ring_out);
	ring_flush(w->ring_in);
	call_free(c);
	w->call = NULL;
	worker_call_done(w, o);
}

void call_rt_end(struct call *c, enum call_outcome o, bool send_hangup, const char *fmt, ...)
{
	va_list ap;

	if (c->ended)
		return;
	c->ended = true;
	c->outcome = o;
	c->send_hangup = send_hangup;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	if (c->rd_ev)
		event_del(c->rd_ev);
	if (c->batch_ev)
		event_del(c->batch_ev);
	event_active(c->end_ev, 0, 0);
}

void call_abort(struct call *c, enum call_outcome outcome, const char *reason)
{
	call_end(c, outcome, true, "%s", reason);
}

/* AudioSocket's goodbye: a hangup frame, best effort (the socket closes next). */
static void as_hangup(struct call *c)
{
	uint8_t hangup[AS_HDR_LEN];
	size_t n = as_encode(hangup, AS_HANGUP, NULL, 0);

	(void)send(c->fd, hangup, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static const struct call_transport audiosocket = {
	.name = "audiosocket",
	.pace = as_pace,
	.hangup = as_hangup,
	.hold = as_hold,
	.read = as_read,
};

/* The same, its replies paced by the kernel (first_audio chooses). */
static const struct call_transport audiosocket_kpaced = {
	.name = "audiosocket",
	.pace = kp_pace,
	.hangup = as_hangup,
	.hold = as_hold,
	.read = as_read,
	.holds = kp_holds,
};

int call_rt_new(struct call **out, struct worker *w, uint64_t seq, int64_t t_accept_ns,
		const struct call_transport *tp, void *tp_state)
{
	struct call *c = calloc(1, sizeof(*c));
	struct timeval sec = { 1, 0 };

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->w = w;
	c->conf = w->conf;
	c->tp = tp;
	c->tp_state = tp_state;
	c->fd = -1;
	c->seq = seq;
	c->start_mono = c->last_rx_mono = mono_ns();
	c->start_real = real_ns();
	hist_add(&w->stats->hist[STAGE_HANDOFF], (uint64_t)(c->start_mono - t_accept_ns) / 1000);
	snprintf(c->reason, sizeof(c->reason), "unknown");
	c->check_ev = event_new(w->base, -1, EV_PERSIST, on_check, c);
	c->end_ev = event_new(w->base, -1, 0, on_end, c);
	c->batch_ev = event_new(w->base, -1, EV_PERSIST, on_batch, c);
	if (!c->check_ev || !c->end_ev || !c->batch_ev || event_add(c->check_ev, &sec) < 0) {
		c->tp = NULL;	/* the state stays the caller's on failure */
		call_free(c);
		return -ENOMEM;
	}
	/* Belt and braces: a call starts with nothing queued either way. */
	ring_flush(w->ring_in);
	ring_flush(w->ring_out);
	w->call = c;
	*out = c;
	return 0;
}

int call_start(struct worker *w, int fd, uint64_t seq, int64_t t_accept_ns)
{
	struct call *c;
	int one = 1, rc = call_rt_new(&c, w, seq, t_accept_ns, &audiosocket, NULL);

	if (rc < 0) {
		close(fd);
		return rc;
	}
	c->fd = fd;
	/* Small frames, sent as they are made. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	evutil_make_socket_nonblocking(fd);
	c->in = malloc(CALL_IN_BUF);
	c->outq = malloc(OUTQ_MAX);
	c->rd_ev = event_new(w->base, fd, EV_READ | EV_PERSIST, on_readable, c);
	c->wr_ev = event_new(w->base, fd, EV_WRITE, on_writable, c);
	if (!c->in || !c->outq || !c->rd_ev || !c->wr_ev || event_add(c->rd_ev, NULL) < 0) {
		w->call = NULL;
		call_free(c);
		return -ENOMEM;
	}
	return 0;
}

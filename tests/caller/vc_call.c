/*
 * vc_call.c - one call, placed the way Asterisk places it.
 *
 * Owns: a call's socket and its life: a non-blocking connect with
 * Asterisk's 2 s limit, the UUID frame first, then audio and DTMF on the
 * shared 20 ms clock, reading and checking every frame the server sends,
 * the linger at the end, and the call's outcome.
 *
 * Sending: each frame is built whole and handed to one send(), as
 * Asterisk does. What the kernel does not take waits in an output queue
 * (allocated only if it is ever needed, bounded); later frames queue behind
 * it so the order on the wire never changes.
 *
 * Receiving: whatever a read brings is appended to one reassembly buffer
 * and parsed frame by frame with as_parse(), so a frame split across reads
 * and several frames in one read are the same case. The sockets are read
 * on the clock's ticks (call_read), not as each frame comes: one wake-up a
 * tick for every call instead of one per frame per call, which was most
 * of the load generator's cost, as it is vagentd's. Each frame still
 * carries its arrival time: the kernel's stamp of the read's last segment
 * (SO_TIMESTAMPNS), so a read a few ms after the frame came measures the
 * same, or, where a read brings no stamp, the time it returned.
 *
 * Never: allocates or prints per frame (sample arrays are sized at start
 * and only double if a call outlives the estimate); uses a length from the
 * server before as_parse() has checked it.
 * Fails: per call only. Every failure becomes that call's outcome and
 * reason, and the other calls go on.
 */
#include "../../common/audio.h"
#include "vc.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/vg_time.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "AudioSocket samples are little-endian; add byte swapping for this target"
#endif

#define CONNECT_TIMEOUT_MS 2000		/* Asterisk's */
#define REJECT_WINDOW_NS (1000 * NS_PER_MS)
/* Large enough that only the 16-bit length bounds an audio frame, as in Asterisk. */
#define RX_MAX_AUDIO_MS 10000
#define IN_BUF (AS_HDR_LEN + AS_MAX_PAYLOAD)
#define OUTQ_FIRST (4 * 1024)
#define OUTQ_MAX (256 * 1024)		/* beyond the kernel's buffers: the server stopped reading */
#define SAMPLES_FIRST_MAX 1024		/* per-call arrays start at most this long */

static void finish(struct call *c, enum outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Ends the call once: the first outcome is the one that counts. */
static void finish(struct call *c, enum outcome o, const char *fmt, ...)
{
	va_list ap;

	if (c->state == CS_DONE)
		return;
	c->state = CS_DONE;
	c->outcome = o;
	c->t_end = mono_ns();
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
	if (c->timer_ev)
		event_del(c->timer_ev);
	if (c->wr_ev)
		event_del(c->wr_ev);
	if (c->fd >= 0)
		close(c->fd);	/* which also takes it out of the ticks' reads */
	c->fd = -1;
	if (wav_writer_close(&c->rec) < 0)
		c->rec_failed = true;
	vc_call_done(c->vc);
}

/* Doubles *arr when full. False when memory ran out (the sample is lost). */
static bool room_for_one(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = reallocarray(*arr, ncap, size);
	if (!p)
		return false;
	*arr = p;
	*cap = ncap;
	return true;
}

/* ---- the server went away ---- */

static void on_eof(struct call *c, int err)
{
	int64_t since = mono_ns() - c->t_connect;
	const char *how = err == 0 ? "closed the connection" :
			  err == ECONNRESET ? "reset the connection" : strerror(err);

	/* vagentd at capacity accepts and closes at once (protocols.md 7.5). */
	if (!c->got_frame && since < REJECT_WINDOW_NS)
		finish(c, OUT_REJECTED, "server %s %.0f ms after connect, no frame",
		       how, (double)since / NS_PER_MS);
	else
		finish(c, OUT_SERVER_CLOSED, "server %s", how);
}

/* ---- receiving ---- */

static void note_rx(struct call *c, const struct as_frame *f, int64_t t)
{
	c->got_frame = true;
	if (!c->vc->o.linger_voiced)
		c->t_last_rx = t;
	if (!c->vc->o.times_path || c->oom)
		return;
	if (!room_for_one((void **)&c->rx, &c->rx_cap, c->nrx, sizeof(*c->rx))) {
		c->oom = true;
		return;
	}
	c->rx[c->nrx++] = (struct rx_rec){ .t_ns = t - c->t_connect, .bytes = f->len,
					   .kind = f->kind };
}

static bool voiced(const struct call *c, const uint8_t *p, size_t samples)
{
	double rms = c->vc->o.voice_rms;
	return audio_mean_square_le(p, samples) > rms * rms;
}

/* A caller's pause of this long before a voiced answer makes a turn. */
#define TURN_GAP_NS (100 * NS_PER_MS)

static void note_turn(struct call *c, const struct as_frame *f, int64_t t)
{
	if (!c->awaiting_reply || t - c->t_last_voiced_tx < TURN_GAP_NS ||
	    !voiced(c, f->payload, f->len / 2))
		return;
	c->awaiting_reply = false;
	if (room_for_one((void **)&c->turn_ms, &c->turn_cap, c->nturn, sizeof(*c->turn_ms)))
		c->turn_ms[c->nturn++] = (double)(t - c->t_last_voiced_tx) / NS_PER_MS;
	else
		c->oom = true;
}

/*
 * A gap of this much after a quiet frame is a pause in the agent's audio
 * (a server that sends no silence between its words), not jitter; pauses
 * are counted apart, so a server that stalls on quiet frames still shows.
 * A quiet frame alone between pauses (such a server's keep-alive) has no
 * rhythm to keep: the interval after it is no jitter either.
 */
#define PAUSE_NS (3 * VC_TICK_MS * NS_PER_MS)

static bool jitter_sample(struct call *c, bool quiet, int64_t t)
{
	bool after_quiet = c->prev_quiet, alone = c->prev_alone;

	c->prev_quiet = quiet;
	c->prev_alone = !c->t_prev_audio;
	if (!c->t_prev_audio)
		return false;
	if (after_quiet && t - c->t_prev_audio >= PAUSE_NS) {
		c->pauses++;
		c->prev_alone = true;
		return false;
	}
	return !(after_quiet && alone);
}

static void on_audio(struct call *c, const struct as_frame *f, int64_t t)
{
	bool quiet = !voiced(c, f->payload, f->len / 2);
	bool sample = jitter_sample(c, quiet, t);

	if (c->vc->o.linger_voiced && !quiet)
		c->t_last_rx = t;

	note_turn(c, f, t);
	c->frames_received++;
	c->samples_received += f->len / 2;
	if (!c->t_first_rx_audio)
		c->t_first_rx_audio = t;
	if (f->kind != c->audio->kind && !c->odd_kind)
		c->odd_kind = f->kind;
	if (sample && !c->oom) {
		if (room_for_one((void **)&c->jitter_ms, &c->jitter_cap, c->njitter,
				 sizeof(*c->jitter_ms)))
			c->jitter_ms[c->njitter++] =
				(double)(t - c->t_prev_audio - c->prev_len_ns) / NS_PER_MS;
		else
			c->oom = true;
	}
	c->t_prev_audio = t;
	/* What a phone's jitter buffer expects: the next frame once this one has played. */
	c->prev_len_ns = (int64_t)(f->len / 2) * NS_PER_S / as_kind_rate(f->kind);
	if (c->rec.fp && !c->rec_failed) {
		/* The payload sits at any offset in c->in: copy it to aligned memory. */
		memcpy(c->vc->rec_buf, f->payload, f->len);
		if (wav_writer_append(&c->rec, c->vc->rec_buf, f->len / 2) < 0)
			c->rec_failed = true;
	}
}

/* Only what Asterisk accepts from a server (protocols.md 7.2). -1: call ended. */
static int on_frame(struct call *c, const struct as_frame *f, int64_t t)
{
	if (f->kind != AS_HANGUP && !as_kind_rate(f->kind)) {
		finish(c, OUT_PROTOCOL_ERROR, "server sent a frame of kind 0x%02x, length %u",
		       f->kind, (unsigned)f->len);
		return -1;
	}
	note_rx(c, f, t);
	if (f->kind == AS_HANGUP) {
		finish(c, OUT_SERVER_HANGUP, "server sent hangup");
		return -1;
	}
	on_audio(c, f, t);
	return 0;
}

static void parse_frames(struct call *c, int64_t t)
{
	struct as_frame f;
	const char *why = NULL;
	size_t off = 0;
	int n;
	bool first = true;

	while ((n = as_parse(c->in + off, c->inlen - off, RX_MAX_AUDIO_MS, &f, &why)) > 0) {
		off += (size_t)n;
		c->shared_read += !first;	/* the frame before it carries its stamp */
		first = false;
		if (on_frame(c, &f, t) < 0)
			return;
	}
	if (n < 0) {	/* as_parse saw a whole header: three bytes are there */
		finish(c, OUT_PROTOCOL_ERROR, "bad frame from the server: %s (kind 0x%02x, "
		       "length %u)", why, c->in[off], (unsigned)(c->in[off + 1] << 8 | c->in[off + 2]));
		return;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

/*
 * When the data a read brought came: the kernel's stamp (CLOCK_REALTIME)
 * on our clock, or now where there is none or it is not believable.
 */
static int64_t arrival(struct msghdr *mh, int64_t now, int64_t real_off)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		struct timespec ts;
		memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
		int64_t t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec - real_off;
		return t <= now && now - t < NS_PER_S ? t : now;
	}
	return now;
}

/* One read. >0: bytes read; 0: nothing there now; -1: the call ended. */
static int read_once(struct call *c)
{
	char cbuf[CMSG_SPACE(sizeof(struct timespec))];
	struct iovec iov = { c->in + c->inlen, IN_BUF - c->inlen };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	ssize_t got = recvmsg(c->fd, &mh, 0);

	if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
		on_eof(c, got == 0 ? 0 : errno);
		return -1;
	}
	if (got < 0)
		return 0;
	c->inlen += (size_t)got;
	parse_frames(c, arrival(&mh, mono_ns(), c->vc->real_off));
	return c->state == CS_DONE ? -1 : 1;
}

void call_read(struct call *c)
{
	if (c->fd >= 0)
		read_once(c);
}

/*
 * A send failed: the server has closed or reset. What it sent before that
 * (a hangup frame, say) decides the outcome, so read it first.
 */
static void peer_gone(struct call *c, int err)
{
	while (read_once(c) > 0)
		;
	if (c->state != CS_DONE)
		on_eof(c, err);
}

/* ---- sending ---- */

static int outq_push(struct call *c, const uint8_t *p, size_t n)
{
	size_t need = c->outq_len + n;

	if (need > OUTQ_MAX) {
		finish(c, OUT_PROTOCOL_ERROR, "server not reading: %zu bytes queued", c->outq_len);
		return -1;
	}
	if (need > c->outq_cap) {
		size_t cap = c->outq_cap ? c->outq_cap : OUTQ_FIRST;
		while (cap < need)
			cap *= 2;
		uint8_t *q = realloc(c->outq, cap);
		if (!q) {
			c->oom = true;
			finish(c, OUT_PROTOCOL_ERROR, "out of memory queueing output");
			return -1;
		}
		c->outq = q;
		c->outq_cap = cap;
	}
	memcpy(c->outq + c->outq_len, p, n);
	c->outq_len += n;
	event_add(c->wr_ev, NULL);
	return 0;
}

/* One whole frame, one send(). 0, or -1 when the call ended. */
static int send_frame(struct call *c, uint8_t kind, const void *payload, uint16_t len)
{
	uint8_t *buf = c->vc->txbuf;
	size_t n = as_encode(buf, kind, payload, len);

	if (c->outq_len)
		return outq_push(c, buf, n);	/* keep frames in order */
	ssize_t sent = send(c->fd, buf, n, MSG_NOSIGNAL);
	if (sent < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			peer_gone(c, errno);
			return -1;
		}
		sent = 0;
	}
	if ((size_t)sent < n)
		return outq_push(c, buf + sent, n - (size_t)sent);
	return 0;
}

static void flush_outq(struct call *c)
{
	ssize_t sent = send(c->fd, c->outq, c->outq_len, MSG_NOSIGNAL);

	if (sent < 0) {
		if (errno != EAGAIN && errno != EINTR)
			peer_gone(c, errno);
		return;
	}
	memmove(c->outq, c->outq + sent, c->outq_len - (size_t)sent);
	c->outq_len -= (size_t)sent;
	if (!c->outq_len)
		event_del(c->wr_ev);
}

/* ---- the 20 ms clock ---- */

static void start_linger(struct call *c)
{
	struct timeval tv = { c->vc->o.linger_ms / 1000, c->vc->o.linger_ms % 1000 * 1000 };

	c->state = CS_LINGER;
	c->t_linger = mono_ns();
	event_add(c->timer_ev, &tv);
}

/* Tick k of the call: DTMF due by now, then audio frame k. -1: call ended. */
static int send_tick(struct call *c, uint64_t k)
{
	const struct vc_opts *o = &c->vc->o;
	const struct vc_audio *a = c->audio;

	while (c->next_dtmf < o->ndtmf && (uint64_t)o->dtmf[c->next_dtmf].ms <= k * VC_TICK_MS) {
		if (send_frame(c, AS_DTMF, &o->dtmf[c->next_dtmf].digit, 1) < 0)
			return -1;
		c->next_dtmf++;
	}
	if (k < a->nframes) {
		size_t first = (size_t)k * (size_t)a->frame_samples, n = (size_t)a->frame_samples;
		const int16_t *p = c->vc->silence;
		if (first < a->wav.nsamples) {	/* the file, then silence */
			p = a->wav.samples + first;
			if (n > a->wav.nsamples - first)
				n = a->wav.nsamples - first;
		}
		int64_t now = mono_ns();
		if (k == 0)
			c->t_first_tx_audio = now;
		if (send_frame(c, a->kind, p, (uint16_t)(n * 2)) < 0)
			return -1;
		if (p != c->vc->silence && a->voiced[k]) {
			c->t_last_voiced_tx = now;
			c->awaiting_reply = true;
		}
		c->frames_sent++;
	}
	if (k + 1 >= a->nframes && c->next_dtmf == o->ndtmf)
		start_linger(c);
	return 0;
}

/* Catches up every tick the clock has passed, so audio never drifts. */
void call_on_tick(struct call *c)
{
	while (c->state == CS_STREAMING &&
	       c->start_tick + c->ticks_done <= call_tick(c->vc, c->index))
		if (send_tick(c, c->ticks_done++) < 0)
			return;
}

/* ---- connecting ---- */

static void connected(struct call *c)
{
	c->state = CS_STREAMING;
	c->start_tick = call_tick(c->vc, c->index) + 1;	/* audio starts on the next tick */
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (epoll_ctl(c->vc->rx_ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
		finish(c, OUT_CONNECT_ERROR, "cannot watch the socket: %s", strerror(errno));
		return;
	}
	send_frame(c, AS_UUID, c->uuid, AS_UUID_LEN);
}

static void connect_done(struct call *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		finish(c, OUT_CONNECT_ERROR, "connect to %s: %s", c->vc->o.addr_arg, strerror(err));
		return;
	}
	event_del(c->timer_ev);
	event_del(c->wr_ev);
	connected(c);
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	(void)fd; (void)what;

	if (c->state == CS_CONNECTING)
		connect_done(c);
	else
		flush_outq(c);
}

static int open_socket(struct call *c)
{
	const struct vc_opts *o = &c->vc->o;
	int one = 1;

	c->fd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	/* Small frames, sent as they are made, as Asterisk does. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Arrival stamps (read on the ticks); without them, the read's time. */
	setsockopt(c->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	c->wr_ev = event_new(c->vc->base, c->fd, EV_WRITE | EV_PERSIST, on_writable, c);
	if (!c->wr_ev)
		return -ENOMEM;
	return 0;
}

static void start_connect(struct call *c)
{
	const struct vc_opts *o = &c->vc->o;
	struct timeval tv = { CONNECT_TIMEOUT_MS / 1000, CONNECT_TIMEOUT_MS % 1000 * 1000 };
	int rc;

	c->t_connect = mono_ns();
	if ((rc = open_socket(c)) < 0) {
		finish(c, OUT_CONNECT_ERROR, "socket: %s", strerror(-rc));
		return;
	}
	if (connect(c->fd, (const struct sockaddr *)&o->addr, o->addrlen) == 0) {
		connected(c);
		return;
	}
	if (errno != EINPROGRESS) {
		finish(c, OUT_CONNECT_ERROR, "connect to %s: %s", o->addr_arg, strerror(errno));
		return;
	}
	c->state = CS_CONNECTING;
	if (event_add(c->wr_ev, NULL) < 0 || event_add(c->timer_ev, &tv) < 0)
		finish(c, OUT_CONNECT_ERROR, "cannot watch the socket");
}

/* ---- timer: stagger start, connect limit, linger ---- */

static void linger_check(struct call *c)
{
	int64_t now = mono_ns(), linger = c->vc->o.linger_ms * NS_PER_MS;
	int64_t quiet_since = c->t_last_rx > c->t_linger ? c->t_last_rx : c->t_linger;
	int64_t left = quiet_since + linger - now;

	if (left <= 0) {
		finish(c, OUT_COMPLETED, "all sent, server quiet for %d ms", c->vc->o.linger_ms);
		return;
	}
	struct timeval tv = { left / NS_PER_S, left % NS_PER_S / NS_PER_US };
	event_add(c->timer_ev, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;
	(void)fd; (void)what;

	switch (c->state) {
	case CS_WAITING:
		start_connect(c);
		break;
	case CS_CONNECTING:
		finish(c, OUT_CONNECT_ERROR, "connect to %s: no answer in %d ms",
		       c->vc->o.addr_arg, CONNECT_TIMEOUT_MS);
		break;
	case CS_LINGER:
		linger_check(c);
		break;
	default:
		break;
	}
}

/* ---- life ---- */

/* Opened before any call starts, so a bad path stops the run, not a call. */
static int open_recording(struct call *c, const char *pattern)
{
	char path[4096];
	int rc;

	if (opts_expand(path, sizeof(path), pattern, c->index) < 0) {
		fprintf(stderr, "vagent-call: -r %s: path too long\n", pattern);
		return -ENAMETOOLONG;
	}
	if ((rc = wav_writer_open(&c->rec, path, c->audio->rate)) < 0) {
		fprintf(stderr, "vagent-call: -r %s: %s\n", path, strerror(-rc));
		wav_writer_close(&c->rec);
		return rc;
	}
	return 0;
}

/* Sample arrays sized for the whole call (capped), so frames never allocate. */
static int alloc_buffers(struct call *c)
{
	uint64_t want = c->audio->nframes + (uint64_t)c->vc->o.linger_ms / VC_TICK_MS + 64;
	size_t cap = want < SAMPLES_FIRST_MAX ? (size_t)want : SAMPLES_FIRST_MAX;

	c->in = malloc(IN_BUF);
	c->jitter_ms = calloc(cap, sizeof(*c->jitter_ms));
	c->jitter_cap = cap;
	if (c->vc->o.times_path) {
		c->rx = calloc(cap, sizeof(*c->rx));
		c->rx_cap = cap;
	}
	if (!c->in || !c->jitter_ms || (c->vc->o.times_path && !c->rx)) {
		fprintf(stderr, "vagent-call: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

int call_init(struct vc *vc, struct call *c, int index, const uint8_t uuid[AS_UUID_LEN])
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->vc = vc;
	c->index = index;
	c->audio = &vc->audios[vc->naudios > 1 ? index : 0];
	c->fd = -1;
	c->state = CS_WAITING;
	memcpy(c->uuid, uuid, AS_UUID_LEN);
	as_uuid_format(c->uuid, c->uuid_str);
	c->timer_ev = evtimer_new(vc->base, on_timer, c);
	if (!c->timer_ev) {
		fprintf(stderr, "vagent-call: out of memory\n");
		return -ENOMEM;
	}
	if ((rc = alloc_buffers(c)) < 0)
		return rc;
	if (vc->o.rec_pattern)
		return open_recording(c, vc->o.rec_pattern);
	return 0;
}

void call_schedule(struct call *c, int delay_ms)
{
	struct timeval tv = { delay_ms / 1000, delay_ms % 1000 * 1000 };

	if (event_add(c->timer_ev, &tv) < 0)
		finish(c, OUT_CONNECT_ERROR, "cannot schedule the call");
}

void call_interrupt(struct call *c)
{
	finish(c, OUT_INTERRUPTED, "interrupted");
}

/* After the loop: events, socket, buffers. NULL-safe, idempotent. */
void call_free(struct call *c)
{
	free(c->turn_ms);
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	wav_writer_close(&c->rec);
	if (c->wr_ev) event_free(c->wr_ev);
	if (c->timer_ev) event_free(c->timer_ev);
	c->wr_ev = c->timer_ev = NULL;
	free(c->in);
	free(c->outq);
	free(c->jitter_ms);
	free(c->rx);
	c->in = c->outq = NULL;
	c->jitter_ms = NULL;
	c->rx = NULL;
}

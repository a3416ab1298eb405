/*
 * vc.h - vagent-call, the test caller and load generator: shared types.
 *
 * Owns: the one context struct of the program (struct vc) and the state of
 * each call (struct call). Every call plays Asterisk towards vagentd's
 * AudioSocket listener; all calls share one event base and one 20 ms send
 * clock, in one thread.
 * Never: keeps mutable state outside struct vc; prints anything while calls
 * run (results are gathered and reported once, at the end).
 * Fails: bad usage exits 2 before any call starts; a call's failure is its
 * outcome, and the exit status says whether any call failed.
 *
 * Files: vagent_call.c (main, clock, signals), vc_opts.c (command line),
 * vc_call.c (one call's protocol), vc_report.c (lines, CSV, JSON).
 */
#ifndef VC_H
#define VC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../../common/audiosocket.h"
#include "../../common/wav.h"

#define VC_TICK_MS 20
#define VC_TICKS_PER_S (1000 / VC_TICK_MS)
#define VC_MAX_CALLS 1000
#define VC_MAX_DTMF 64
#define VC_MAX_FRAME_SAMPLES (192000 / VC_TICKS_PER_S)	/* the highest AudioSocket rate */

enum vc_exit { VC_EXIT_OK = 0, VC_EXIT_FAIL = 1, VC_EXIT_USAGE = 2 };

enum call_state {
	CS_WAITING,	/* stagger: not started yet */
	CS_CONNECTING,
	CS_STREAMING,	/* UUID sent, audio and DTMF on the clock */
	CS_LINGER,	/* everything sent, waiting for the server to go quiet */
	CS_DONE,
};

enum outcome {
	OUT_NONE,
	OUT_COMPLETED,
	OUT_REJECTED,
	OUT_SERVER_HANGUP,
	OUT_SERVER_CLOSED,
	OUT_CONNECT_ERROR,
	OUT_PROTOCOL_ERROR,
	OUT_INTERRUPTED,	/* SIGINT/SIGTERM ended the run */
	OUT_COUNT,
};

struct dtmf_at {
	char digit;
	int ms;		/* after the call started streaming */
};

struct vc_opts {
	const char *addr_arg;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int ncalls;
	bool have_uuid;
	uint8_t uuid0[AS_UUID_LEN];
	const char *wav_path;
	int rate;		/* -R; 0 if not given */
	double extra_s;		/* -d; < 0 if not given */
	struct dtmf_at dtmf[VC_MAX_DTMF];	/* sorted by time */
	int ndtmf;
	int linger_ms;
	bool linger_voiced;	/* -L: only frames above -V break the linger's quiet */
	const char *rec_pattern;
	const char *times_path;
	bool json;
	bool quiet;
	int stagger_ms;
	int voice_rms;		/* -V: level that counts as speech, for turn latency */
	int phases;		/* -P: calls spread over this many offsets of the 20 ms clock */
};

/* What a call streams: its WAV (or nothing), then silence. */
struct vc_audio {
	struct wav wav;		/* samples NULL without -w */
	int rate;
	uint8_t kind;
	int frame_samples;	/* rate / 50 */
	uint64_t nframes;	/* file frames plus silence frames */
	bool *voiced;		/* per file frame: louder than -V (worked out once) */
};

/* One received frame, kept for -T only. */
struct rx_rec {
	int64_t t_ns;		/* since the call's connect() */
	uint32_t bytes;
	uint8_t kind;
};

struct event;
struct event_base;
struct vc;

struct call {
	struct vc *vc;
	int index;
	int fd;
	const struct vc_audio *audio;
	enum call_state state;
	enum outcome outcome;
	uint8_t uuid[AS_UUID_LEN];
	char uuid_str[AS_UUID_STR_LEN + 1];
	char reason[160];

	struct event *wr_ev;	/* EV_WRITE: connect completion, then output queue */
	struct event *timer_ev;	/* stagger start, connect timeout, linger */

	uint64_t start_tick;	/* clock tick of the first audio frame */
	uint64_t ticks_done;
	int next_dtmf;

	int64_t t_connect, t_end;
	int64_t t_first_tx_audio, t_first_rx_audio;
	int64_t t_last_rx, t_linger, t_prev_audio;

	uint64_t frames_sent, frames_received;	/* audio frames */
	uint64_t samples_received;
	bool got_frame;		/* any frame at all from the server */

	uint8_t *in;		/* reassembly buffer, one maximal frame */
	size_t inlen;
	uint8_t *outq;		/* what the kernel did not take, allocated on need */
	size_t outq_len, outq_cap;

	double *jitter_ms;	/* each interval less the frame before's length: < 0 early, > 0 late */
	int64_t prev_len_ns;	/* the audio the frame before carried */
	size_t njitter, jitter_cap;
	bool prev_quiet;	/* the last audio frame heard was below -V */
	bool prev_alone;	/* and it came after a pause (or first) */
	uint64_t pauses;	/* gaps after a quiet frame: not jitter (vc_call.c) */
	uint64_t shared_read;	/* frames read after another of theirs: it carries their stamp */
	/* Turn latency: our last voiced frame to the first voiced frame heard back. */
	int64_t t_last_voiced_tx;
	bool awaiting_reply;
	double *turn_ms;
	size_t nturn, turn_cap;
	struct rx_rec *rx;	/* -T only */
	size_t nrx, rx_cap;

	uint8_t odd_kind;	/* first audio kind unlike ours the server sent */
	struct wav_writer rec;	/* -r only */
	bool rec_failed;
	bool oom;
};

struct vc {
	struct vc_opts o;
	struct vc_audio *audios;	/* one per call with -w PATTERN, else one */
	int naudios;
	int16_t *silence;	/* one frame of zeros at the highest rate */
	struct event_base *base;
	int tfd;
	int rx_ep;		/* epoll of the connected calls' sockets, read on the ticks */
	int64_t real_off;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns, at the last tick */
	struct event *tick_ev, *sigint_ev, *sigterm_ev;
	uint64_t sub;		/* clock periods / o.phases since start */
	uint64_t reads;		/* read periods since start: reads_per_sub to a sub */
	int reads_per_sub;
	uint64_t late_wakeups, max_late_ticks;
	uint8_t *txbuf;		/* one outgoing frame, built whole */
	int16_t *rec_buf;	/* -r: a received payload, aligned for int16_t */
	struct call *calls;
	int ncalls;
	int live;		/* calls not yet CS_DONE */
};

/* vc_opts.c. opts_parse: 0; -1 after -h; else a VC_EXIT_* status, told why. */
int opts_parse(struct vc_opts *o, int argc, char **argv);
int opts_load_audios(const struct vc_opts *o, struct vc_audio **out, int *n);
void opts_free_audios(struct vc_audio *a, int n);
/* The first "%d" of pattern becomes index; 0 or -ENAMETOOLONG. */
int opts_expand(char *out, size_t outlen, const char *pattern, int index);

/* vc_call.c */
int call_init(struct vc *vc, struct call *c, int index, const uint8_t uuid[AS_UUID_LEN]);
void call_schedule(struct call *c, int delay_ms);
/*
 * A call's own 20 ms clock: call i runs (i mod phases) * 20/phases ms
 * after call 0, as channels of a real PBX each have their own phase.
 */
static inline uint64_t call_tick(const struct vc *vc, int index)
{
	uint64_t phase = (uint64_t)(index % vc->o.phases);

	return vc->sub >= phase ? (vc->sub - phase) / (uint64_t)vc->o.phases : 0;
}

void call_on_tick(struct call *c);
/* Reads what the server sent (the socket was ready): on the clock's ticks. */
void call_read(struct call *c);
void call_interrupt(struct call *c);
void call_free(struct call *c);

/* vc_report.c */
const char *outcome_name(enum outcome o);
bool outcome_is_error(enum outcome o);
void report_calls(const struct vc *vc);
int report_times(const struct vc *vc);
int report_json(const struct vc *vc);

/* vagent_call.c: a call reached CS_DONE. */
void vc_call_done(struct vc *vc);

#endif

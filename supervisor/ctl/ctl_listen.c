/*
 * ctl_listen.c - vagentctl listen UUID: a live call's audio, as it flows.
 *
 * Owns: finding the call's slot, following its rings with ctl_tap.h, and
 * writing what comes as a WAV (a file, or a stream on stdout that aplay
 * or sox can play) or raw samples, until the call ends or Ctrl-C.
 *
 * --in is what the caller sends, sample for sample. --out is what the
 * agent produces, as it produces it: replies arrive faster than they are
 * played and may be cut short by a barge-in, so it is the agent's side,
 * not exactly what the caller heard (the recording's right channel is
 * that). --both (the default) is stereo, caller left, agent right, the
 * agent's samples paced by the caller's so the two stay roughly in step.
 *
 * Never slows the call: nothing here is seen by the worker. A listener
 * that cannot keep up (a stalled pipe) is lapped and says how much it
 * lost on stderr; the output goes on from the live audio.
 */
#include "ctl_live.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/vg_time.h"
#include "../../common/wav.h"
#include "ctl_tap.h"

#define POLL_US 10000
#define CHUNK 4096		/* samples per read of one ring */

enum dir { DIR_IN = 1, DIR_OUT = 2, DIR_BOTH = 3 };

struct listen {
	const struct shm_map *m;
	uint32_t slot;
	struct slot_info call;		/* as found */
	enum dir dir;
	bool raw;
	const char *file;
	FILE *fp;
	struct wav_writer ww;		/* -o FILE */
	struct tap tin, tout;
	int16_t *in, *out, *pend, *frames;
	size_t npend;			/* --both: agent samples waiting for the caller's */
	uint64_t written;		/* samples per channel */
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;	/* only a flag: the loop looks at it every POLL_US */
}

static void listen_usage(FILE *fp)
{
	fprintf(fp, "usage: vagentctl listen UUID [-o FILE.wav] [--in|--out|--both] [--raw]\n"
		    "  UUID or a unique prefix of it (vagentctl calls, top); stdout by default\n");
}

/* The busy slot whose call UUID starts with want; -ENOENT, or -EEXIST if several. */
static int find_call(const struct shm_map *m, const char *want, uint32_t *slot,
		     struct slot_info *out)
{
	const struct shm_header *h = shm_hdr(m);
	struct slot_info info;
	int found = 0;

	for (uint32_t i = 0; i < h->nslots; i++) {
		if (slot_read(shm_slot(m, i), &info) < 0 || info.state != SLOT_BUSY)
			continue;
		info.uuid[sizeof(info.uuid) - 1] = '\0';
		if (strncasecmp(info.uuid, want, strlen(want)))
			continue;
		*slot = i;
		*out = info;
		found++;
	}
	return found == 1 ? 0 : found ? -EEXIST : -ENOENT;
}

/* 1 while the call found is still the slot's, 0 once it ended (or it is another). */
static int still_on(const struct listen *l, struct slot_info *now)
{
	for (int tries = 0; tries < 100; tries++)
		if (slot_read(shm_slot(l->m, l->slot), now) == 0)
			return now->state == SLOT_BUSY &&
			       now->start_mono_ns == l->call.start_mono_ns &&
			       !strncmp(now->uuid, l->call.uuid, sizeof(now->uuid));
	return 1;	/* kept changing: ask again next time */
}

static int put(struct listen *l, const int16_t *s, size_t samples)
{
	if (l->file)
		return wav_writer_append(&l->ww, s, samples);
	return fwrite(s, 2, samples, l->fp) == samples ? 0 : -EIO;
}

/* --both: the caller's n samples with as many of the agent's as are waiting. */
static int put_both(struct listen *l, size_t n)
{
	size_t k = l->npend < n ? l->npend : n;
	int16_t *r = l->pend;

	if (k < n)
		memset(l->pend + k, 0, (n - k) * 2);	/* the agent is quiet */
	wav_interleave(l->frames, l->in, r, n);
	memmove(l->pend, l->pend + k, (l->npend - k) * 2);
	l->npend -= k;
	return put(l, l->frames, n * 2);
}

static void say_lapped(const char *which, bool lapped)
{
	if (lapped)
		fprintf(stderr, "vagentctl: listen: too slow, the %s ring lapped us: audio lost\n",
			which);
}

/* One look at the rings; the samples go out only if the call was still on. */
static int pump(struct listen *l, bool *on)
{
	size_t nin = 0, nout = 0;
	bool lap;
	struct slot_info now;

	if (l->dir & DIR_IN) {
		nin = tap_read(&l->tin, l->in, CHUNK, &lap);
		say_lapped("caller", lap);
	}
	if (l->dir & DIR_OUT) {
		size_t room = l->dir == DIR_BOTH ? CHUNK * 4 - l->npend : CHUNK;
		nout = tap_read(&l->tout, l->dir == DIR_BOTH ? l->pend + l->npend : l->out,
				room, &lap);
		say_lapped("agent", lap);
	}
	/*
	 * Copied before this look. A call that has just ended wrote them all
	 * (its slot goes idle before another call can write the rings); if
	 * another call is on already, they may be its: dropped.
	 */
	*on = still_on(l, &now) == 1;
	if (!*on && now.state == SLOT_BUSY)
		return 0;	/* another call already: what we copied may be its */
	if (l->dir == DIR_BOTH) {
		l->npend += nout;
		l->written += nin;
		return nin ? put_both(l, nin) : 0;
	}
	l->written += nin + nout;
	return put(l, l->dir == DIR_IN ? l->in : l->out, nin + nout);
}

static int open_output(struct listen *l, int rate)
{
	int ch = l->dir == DIR_BOTH ? 2 : 1;

	if (l->file) {
		int fd = open(l->file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		return wav_writer_fdopen(&l->ww, fd, rate, ch);
	}
	l->fp = stdout;
	if (!l->raw) {
		uint8_t h[WAV_HDR_LEN];
		wav_header(h, rate, ch, WAV_STREAM_SAMPLES);
		if (fwrite(h, 1, sizeof(h), stdout) != sizeof(h))
			return -EIO;
	}
	return 0;
}

/* Waits for the call's rate (set by its first audio frame); 0 if it ended first. */
static uint32_t wait_rate(struct listen *l)
{
	struct slot_info now;

	while (!stop_flag && still_on(l, &now) == 1) {
		if (now.rate)
			return now.rate;
		usleep(POLL_US);
	}
	return 0;
}

static int run(struct listen *l)
{
	const struct shm_header *h = shm_hdr(l->m);
	void *region = shm_slot(l->m, l->slot);
	uint32_t rate = wait_rate(l);
	bool on = true;
	int rc;

	if (!rate) {
		fprintf(stderr, "vagentctl: listen: the call ended before its audio began\n");
		return 1;
	}
	/* Before the header: the first samples are the ones after this moment. */
	if (tap_init(&l->tin, slot_ring_in(region, h), h->ring_samples) < 0 ||
	    tap_init(&l->tout, slot_ring_out(region, h), h->ring_samples) < 0) {
		fprintf(stderr, "vagentctl: listen: ring size %u is not a power of two\n",
			h->ring_samples);
		return 1;
	}
	if ((rc = open_output(l, (int)rate)) < 0) {
		fprintf(stderr, "vagentctl: listen: %s: %s\n", l->file ? l->file : "stdout",
			strerror(-rc));
		return 1;
	}
	while (!stop_flag && on) {
		if ((rc = pump(l, &on)) < 0)
			break;		/* a closed pipe: the listener is gone */
		if (on)
			fflush(l->file ? l->ww.fp : l->fp);
		usleep(POLL_US);
	}
	if (l->file && (rc = wav_writer_close(&l->ww)) < 0)
		fprintf(stderr, "vagentctl: listen: %s: %s\n", l->file, strerror(-rc));
	fprintf(stderr, "vagentctl: listen: %s; %.2f s at %u Hz%s%s\n",
		on ? "stopped" : "call ended", (double)l->written / rate, rate,
		l->tin.lapped + l->tout.lapped ? ", some audio lost (lapped)" : "",
		l->file ? "" : " to stdout");
	return rc < 0 && l->file ? 1 : 0;
}

static int parse(struct listen *l, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "in", no_argument, NULL, 'i' }, { "out", no_argument, NULL, 'O' },
		{ "both", no_argument, NULL, 'b' }, { "raw", no_argument, NULL, 'R' },
		{ "output", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': l->dir = DIR_IN; break;
		case 'O': l->dir = DIR_OUT; break;
		case 'b': l->dir = DIR_BOTH; break;
		case 'R': l->raw = true; break;
		case 'o': l->file = optarg; break;
		default: return -1;
		}
	}
	return optind == argc - 1 && argv[optind][0] ? optind : -1;
}

int ctl_listen(const struct shm_map *m, int argc, char **argv)
{
	struct listen l = { .m = m, .dir = DIR_BOTH };
	struct sigaction sa = { .sa_handler = on_stop };
	int at = parse(&l, argc, argv), rc;

	if (at < 0) {
		listen_usage(stderr);
		return 2;
	}
	if (l.file && l.raw) {
		fprintf(stderr, "vagentctl: listen: --raw is for stdout only\n");
		return 2;
	}
	if ((rc = find_call(m, argv[at], &l.slot, &l.call)) < 0) {
		fprintf(stderr, "vagentctl: listen: %s\n", rc == -EEXIST ?
			"several calls match that prefix" : "no call in progress has that UUID");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	l.in = malloc(CHUNK * 2);
	l.out = malloc(CHUNK * 2);
	l.pend = malloc(CHUNK * 4 * 2);
	l.frames = malloc(CHUNK * 2 * 2);
	rc = l.in && l.out && l.pend && l.frames ? run(&l) : 1;
	free(l.in);
	free(l.out);
	free(l.pend);
	free(l.frames);
	return rc;
}

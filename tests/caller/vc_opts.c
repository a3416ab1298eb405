/*
 * vc_opts.c - vagent-call's command line and the audio it implies.
 *
 * Owns: turning argv into a checked struct vc_opts (address resolved,
 * numbers in range, DTMF sorted by time) and loading what every call will
 * stream (the WAV, or silence at -R) into struct vc_audio.
 * Never: starts anything; a value that is wrong, out of range or
 * inconsistent with another option is refused here, not discovered later.
 * Fails: prints one "vagent-call: ..." line naming the option and returns
 * VC_EXIT_USAGE.
 */
#include "../../common/audio.h"
#include "vc.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ADDR "127.0.0.1:9099"
#define DEFAULT_RATE 8000
#define DEFAULT_SILENCE_S 5.0
#define DEFAULT_LINGER_MS 500
#define MAX_SECONDS 86400.0
#define MAX_MS 86400000L

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Names what is wrong, once; the caller returns what this returns. */
static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vagent-call: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (-h for help)\n");
	return VC_EXIT_USAGE;
}

static void usage(FILE *fp)
{
	fprintf(fp,
"usage: vagent-call [options]\n"
"Plays Asterisk towards vagentd's AudioSocket listener: connects, sends the\n"
"UUID frame, streams audio in real time (one 20 ms frame per tick), records\n"
"and times what comes back.\n"
"  -a HOST:PORT  server (default " DEFAULT_ADDR "; [::1]:9099 for IPv6)\n"
"  -n N          simultaneous calls, 1..%d (default 1)\n"
"  -u UUID       UUID of call 0 (others random; default random)\n"
"  -w FILE       mono 16-bit WAV to stream; its rate picks the audio kind;\n"
"                with -n > 1 a %%d in FILE becomes the call index\n"
"  -R RATE       without -w: rate of the silence streamed (default %d)\n"
"  -d SECONDS    without -w: silence to stream (default 5);\n"
"                with -w: silence after the file (default 0)\n"
"  -D DIGIT@MS   DTMF frame at MS ms of streaming (on the 20 ms clock;\n"
"                repeatable; must fall within the audio)\n"
"  -l MS         after the audio, close once nothing arrived for MS ms\n"
"                (default %d)\n"
"  -L            for -l, frames quieter than -V count as nothing: hang up\n"
"                once the agent is silent, as a caller does, whether or not\n"
"                the server sends silence\n"
"  -r PATTERN    record received audio to WAV; first %%d = call index\n"
"  -T FILE       per-frame arrival times, CSV: call,frame,t_us,bytes,kind\n"
"  -j            one JSON object on stdout at the end\n"
"  -q            no per-call lines on stderr\n"
"  -s MS         start call i at i*MS ms (default 0)\n"
"  -P N          spread the calls' 20 ms clocks over N phases, 20/N ms apart\n"
"                (call i on phase i mod N), as a PBX's channels are; default 1:\n"
"                every call sends on the same instant\n"
"  -V RMS        level that counts as speech, for turn latency (default 200):\n"
"                our last voiced frame to the first voiced frame heard back\n"
"  -h            this help\n"
"Outcomes: completed, rejected, server_hangup, server_closed, connect_error,\n"
"protocol_error (interrupted on SIGINT). Frame counts are audio frames.\n"
"Exit: 0 no call failed, 1 a call failed (connect_error, protocol_error,\n"
"interrupted), 2 bad usage.\n",
		VC_MAX_CALLS, DEFAULT_RATE, DEFAULT_LINGER_MS);
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static int parse_int_opt(int opt, const char *arg, long min, long max, int *out)
{
	long v;
	char name[3] = { '-', (char)opt, '\0' };

	if (!parse_long(arg, min, max, &v))
		return bad("%s: bad value '%s'", name, arg);
	*out = (int)v;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT", resolved once, here. */
static int parse_addr(struct vc_opts *o, const char *arg)
{
	char host[256];
	const char *h = arg, *colon = strrchr(arg, ':');
	size_t hlen;

	if (!colon || !colon[1])
		return bad("-a %s: expected HOST:PORT", arg);
	if (arg[0] == '[') {
		if (colon == arg || colon[-1] != ']')
			return bad("-a %s: expected [ADDRESS]:PORT", arg);
		h = arg + 1;
		hlen = (size_t)(colon - 1 - h);
	} else {
		hlen = (size_t)(colon - arg);
		if (memchr(arg, ':', hlen))
			return bad("-a %s: write an IPv6 address as [ADDRESS]:PORT", arg);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return bad("-a %s: bad host", arg);
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	const char *port = colon + 1;
	long p;
	if (!parse_long(port, 1, 65535, &p))
		return bad("-a: bad port '%s'", port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV }, *res;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
		return bad("-a %s: %s", host, gai_strerror(rc));
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* "5@1000": digit 5 at 1000 ms. Kept sorted by time, ties in given order. */
static int parse_dtmf(struct vc_opts *o, const char *arg)
{
	long ms;
	char d = (char)toupper((unsigned char)arg[0]);

	if (!d || !strchr("0123456789*#ABCD", d) || arg[1] != '@' ||
	    !parse_long(arg + 2, 0, MAX_MS, &ms))
		return bad("-D %s: expected DIGIT@MS, DIGIT one of 0-9 * # A-D", arg);
	if (o->ndtmf == VC_MAX_DTMF)
		return bad("-D %s: too many DTMF digits", arg);
	int i = o->ndtmf++;
	while (i > 0 && o->dtmf[i - 1].ms > ms) {
		o->dtmf[i] = o->dtmf[i - 1];
		i--;
	}
	o->dtmf[i] = (struct dtmf_at){ .digit = d, .ms = (int)ms };
	return 0;
}

static int parse_seconds(struct vc_opts *o, const char *arg)
{
	char *end;

	errno = 0;
	o->extra_s = strtod(arg, &end);
	if (errno || end == arg || *end || !(o->extra_s >= 0 && o->extra_s <= MAX_SECONDS))
		return bad("-d: bad value '%s'", arg);
	return 0;
}

static int parse_rate(struct vc_opts *o, const char *arg)
{
	int rc = parse_int_opt('R', arg, 1, 1000000, &o->rate);

	if (rc == 0 && as_rate_kind(o->rate) < 0)
		return bad("-R %s: not an AudioSocket rate (8000, 12000, 16000, 24000, "
			   "32000, 44100, 48000, 96000, 192000)", arg);
	return rc;
}

static int parse_one(struct vc_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case 'a': o->addr_arg = arg; return parse_addr(o, arg);
	case 'n': return parse_int_opt(opt, arg, 1, VC_MAX_CALLS, &o->ncalls);
	case 'u':
		if (as_uuid_parse(arg, o->uuid0) < 0)
			return bad("-u %s: expected a 36-character UUID", arg);
		o->have_uuid = true;
		return 0;
	case 'w': o->wav_path = arg; return 0;
	case 'R': return parse_rate(o, arg);
	case 'd': return parse_seconds(o, arg);
	case 'D': return parse_dtmf(o, arg);
	case 'l': return parse_int_opt(opt, arg, 0, MAX_MS, &o->linger_ms);
	case 'L': o->linger_voiced = true; return 0;
	case 'r': o->rec_pattern = arg; return 0;
	case 'T': o->times_path = arg; return 0;
	case 'j': o->json = true; return 0;
	case 'q': o->quiet = true; return 0;
	case 's': return parse_int_opt(opt, arg, 0, MAX_MS / VC_MAX_CALLS, &o->stagger_ms);
	case 'V': return parse_int_opt(opt, arg, 1, 32767, &o->voice_rms);
	case 'P': return parse_int_opt(opt, arg, 1, 20, &o->phases);
	default: return VC_EXIT_USAGE;	/* getopt printed why */
	}
}

/* Returns 0, VC_EXIT_USAGE, or -1 for -h (help printed, exit 0). */
int opts_parse(struct vc_opts *o, int argc, char **argv)
{
	int opt, rc;

	memset(o, 0, sizeof(*o));
	o->ncalls = 1;
	o->extra_s = -1;
	o->linger_ms = DEFAULT_LINGER_MS;
	o->voice_rms = 200;
	o->phases = 1;
	if ((rc = parse_addr(o, DEFAULT_ADDR)) != 0)
		return rc;
	o->addr_arg = DEFAULT_ADDR;
	while ((opt = getopt(argc, argv, "a:n:u:w:R:d:D:l:Lr:T:jqs:V:P:h")) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return -1;
		}
		if ((rc = parse_one(o, opt, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (o->rec_pattern && o->ncalls > 1 && !strstr(o->rec_pattern, "%d"))
		return bad("-r %s: with -n > 1 the pattern needs a %%d for the call index",
			   o->rec_pattern);
	return 0;
}

int opts_expand(char *out, size_t outlen, const char *pattern, int index)
{
	const char *pct = strstr(pattern, "%d");
	int n;

	if (pct)
		n = snprintf(out, outlen, "%.*s%d%s", (int)(pct - pattern), pattern, index, pct + 2);
	else
		n = snprintf(out, outlen, "%s", pattern);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

static int load_wav(const struct vc_opts *o, const char *path, struct vc_audio *a)
{
	char err[512];

	if (wav_load(path, &a->wav, err, sizeof(err)) < 0)
		return bad("-w %s", err);
	a->rate = a->wav.rate;
	if (as_rate_kind(a->rate) < 0)
		return bad("-w %s: %d Hz has no AudioSocket audio kind (8000, 12000, 16000, "
			   "24000, 32000, 44100, 48000, 96000, 192000)", path, a->rate);
	if (o->rate && o->rate != a->rate)
		return bad("-R %d does not match -w %s (%d Hz)", o->rate, path, a->rate);
	return 0;
}

/* Every DTMF digit must be sent while the call is still streaming. */
static int check_dtmf(const struct vc_opts *o, const struct vc_audio *a)
{
	for (int i = 0; i < o->ndtmf; i++) {
		uint64_t tick = ((uint64_t)o->dtmf[i].ms + VC_TICK_MS - 1) / VC_TICK_MS;
		if (tick > a->nframes)
			return bad("-D %c@%d: after the audio ends (%llu ms)", o->dtmf[i].digit,
				   o->dtmf[i].ms, (unsigned long long)a->nframes * VC_TICK_MS);
	}
	return 0;
}

/* path NULL: silence only. */
/*
 * Which frames of the file are speech, for turn latency: decided once per
 * file here, not for every call on every tick (silence is never voiced).
 */
static int mark_voiced(const struct vc_opts *o, struct vc_audio *a)
{
	size_t fs = (size_t)a->frame_samples, n = (a->wav.nsamples + fs - 1) / fs;
	double rms = o->voice_rms;

	if (!n)
		return 0;
	a->voiced = calloc(n, sizeof(*a->voiced));
	if (!a->voiced) {
		fprintf(stderr, "vagent-call: out of memory\n");
		return VC_EXIT_FAIL;
	}
	for (size_t k = 0; k < n; k++) {
		size_t len = a->wav.nsamples - k * fs < fs ? a->wav.nsamples - k * fs : fs;

		a->voiced[k] = audio_mean_square_le((const uint8_t *)(a->wav.samples + k * fs),
						    len) > rms * rms;
	}
	return 0;
}

static int load_audio(const struct vc_opts *o, const char *path, struct vc_audio *a)
{
	double extra = o->extra_s;
	int rc;

	if (path) {
		if ((rc = load_wav(o, path, a)) != 0)
			return rc;
		if (extra < 0)
			extra = 0;
	} else {
		a->rate = o->rate ? o->rate : DEFAULT_RATE;
		if (extra < 0)
			extra = DEFAULT_SILENCE_S;
	}
	a->kind = (uint8_t)as_rate_kind(a->rate);
	a->frame_samples = a->rate / VC_TICKS_PER_S;	/* every AudioSocket rate divides */
	a->nframes = (a->wav.nsamples + (size_t)a->frame_samples - 1) / (size_t)a->frame_samples +
		     (uint64_t)llround(extra * VC_TICKS_PER_S);
	if ((rc = mark_voiced(o, a)) != 0)
		return rc;
	return check_dtmf(o, a);
}

/* One audio per call when -w names a pattern, else one for all. */
int opts_load_audios(const struct vc_opts *o, struct vc_audio **out, int *n)
{
	bool per_call = o->wav_path && strstr(o->wav_path, "%d");
	int count = per_call ? o->ncalls : 1, rc = 0;
	struct vc_audio *a = calloc((size_t)count, sizeof(*a));
	char path[4096];

	*out = a;
	*n = 0;
	if (!a) {
		fprintf(stderr, "vagent-call: out of memory\n");
		return VC_EXIT_FAIL;
	}
	for (int i = 0; i < count && rc == 0; i++, (*n)++) {
		if (o->wav_path && opts_expand(path, sizeof(path), o->wav_path, i) < 0)
			return bad("-w %s: path too long", o->wav_path);
		rc = load_audio(o, o->wav_path ? path : NULL, &a[i]);
	}
	return rc;
}

void opts_free_audios(struct vc_audio *a, int n)
{
	if (!a)
		return;
	for (int i = 0; i < n; i++) {
		wav_free(&a[i].wav);
		free(a[i].voiced);
	}
	free(a);
}

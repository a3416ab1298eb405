/*
 * ctl_announce.c - vagentctl announce: a one-way voice message (see
 * ctl_call.h).
 *
 * The text is spoken by espeak-ng, the local voice: protocols.md documents
 * the providers' streaming websockets only, not a one-shot HTTP synthesis,
 * and a message that must go out should not depend on a provider anyway.
 * The audio is written as 8 kHz 16-bit WAV (which Twilio's <Play> takes)
 * into [api] announce_dir under 128 random bits, readable by the api's
 * user; the api serves it for a day (api_announce.c) and messages older
 * than that are swept here on each run, so the directory never grows.
 * Then Twilio is asked to call and <Play> it.
 *
 * Never: name a file anything Twilio could guess; keep a half-written file
 * under a name the api would serve (written as .tmp, then renamed).
 */
#include "ctl_call.h"

#include <dirent.h>
#include <errno.h>
#include <espeak-ng/speak_lib.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../common/audio.h"
#include "../../common/buf.h"
#include "../../common/conf.h"
#include "../../common/twiml.h"
#include "../../common/wav.h"

#define RATE 8000
#define TTL_S (24 * 3600)
#define TEXT_MAX 4000
#define PCM_MAX (64u << 20)	/* minutes of espeak's 22 kHz: far beyond TEXT_MAX */

static int on_samples(short *wav, int n, espeak_EVENT *ev)
{
	struct buf *b = ev ? ev->user_data : NULL;

	if (!b || !wav || n <= 0)
		return 0;
	return buf_append(b, wav, (size_t)n * sizeof(short)) == 0 ? 0 : 1;	/* 1: stop */
}

/* text at 8 kHz into *out (malloc'd, *n samples). 0 or -1 (said). */
static int synthesise(const char *voice, const char *text, int16_t **out, size_t *n)
{
	struct buf pcm;
	int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, 0);
	int rc = -1;

	if (rate <= 0) {
		fprintf(stderr, "vagentctl: espeak-ng does not start (is espeak-ng-data "
			"installed?)\n");
		return -1;
	}
	espeak_SetSynthCallback(on_samples);
	if (espeak_SetVoiceByName(voice) != EE_OK && espeak_SetVoiceByName("en") != EE_OK) {
		fprintf(stderr, "vagentctl: espeak-ng has no voice %s nor en\n", voice);
		espeak_Terminate();
		return -1;
	}
	buf_init(&pcm, PCM_MAX);
	if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL,
			 &pcm) != EE_OK || pcm.len < 2) {
		fprintf(stderr, "vagentctl: espeak-ng could not speak the text\n");
		goto out;
	}
	size_t in = pcm.len / 2, cap = (size_t)((uint64_t)in * RATE / (uint64_t)rate) + 1;
	if (!(*out = malloc(cap * sizeof(int16_t)))) {
		fprintf(stderr, "vagentctl: out of memory\n");
		goto out;
	}
	*n = audio_resample((const int16_t *)pcm.data, in, rate, *out, cap, RATE);
	rc = 0;
out:
	buf_free(&pcm);
	espeak_Terminate();
	return rc;
}

static bool announce_name(const char *s)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return !strcmp(s + 32, ".wav") || !strcmp(s + 32, ".wav.tmp");
}

/* Removes this command's files older than a day; a failure only costs disk. */
static void sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);

	while (d && (e = readdir(d)))
		if (announce_name(e->d_name) &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > TTL_S)
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
}

/* The WAV under a new random name (out: "<32 hex>.wav"). 0 or -1 (said). */
static int store(const char *dir, const int16_t *s, size_t n, char *name, size_t len)
{
	unsigned char rnd[16];
	char path[PATH_MAX + 48], tmp[PATH_MAX + 56];
	int rc;

	if (len < 37 || getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fprintf(stderr, "vagentctl: no random bytes for the file name\n");
		return -1;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(name + 2 * i, 3, "%02x", rnd[i]);
	strcat(name, ".wav");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "vagentctl: [api] announce_dir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* 0644: the api's user reads it, and Twilio plays it to the world anyway */
	if ((rc = wav_save(tmp, RATE, s, n)) < 0 || chmod(tmp, 0644) < 0 ||
	    rename(tmp, path) < 0) {
		fprintf(stderr, "vagentctl: [api] announce_dir %s: %s\n", dir,
			strerror(rc < 0 ? -rc : errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void usage(FILE *fp)
{
	fprintf(fp, "usage: vagentctl [-c FILE] announce NUMBER --text TEXT [--did DID]\n");
}

int ctl_announce(const struct conf *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "text", required_argument, NULL, 't' },
		{ "did", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *text = NULL, *did = NULL;
	char to[24], from[24], name[40], base[256], url[400];
	int16_t *s = NULL;
	size_t n = 0;
	int opt, rc = 1;

	if (argc < 1 || argv[0][0] == '-') {
		usage(stderr);
		return 2;
	}
	optind = 0;	/* GNU: start over, at argv[1] (argv[0] is the number) */
	while ((opt = getopt_long(argc, argv, "+t:d:h", opts, NULL)) != -1) {
		switch (opt) {
		case 't': text = optarg; break;
		case 'd': did = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !text || !*text || strlen(text) > TEXT_MAX) {
		usage(stderr);
		return 2;
	}
	const char *caller_id = c->tw_from[0] ? c->tw_from : did;
	if (ctl_e164(argv[0], to, sizeof(to)) < 0 || !caller_id ||
	    ctl_e164(caller_id, from, sizeof(from)) < 0) {
		fprintf(stderr, "vagentctl: %s\n", !caller_id ? "the call needs a caller ID: "
			"--did DID or [twilio] from" : "a number is not a phone number");
		return 2;
	}
	if (!c->tw_public_url[0] || !c->api_announce_dir[0]) {
		fprintf(stderr, "vagentctl: [twilio] public_url and [api] announce_dir are "
			"required\n");
		return 1;
	}
	sweep(c->api_announce_dir);
	if (synthesise(c->tts_language[0] ? c->tts_language : "en", text, &s, &n) < 0 ||
	    store(c->api_announce_dir, s, n, name, sizeof(name)) < 0)
		goto out;
	snprintf(url, sizeof(url), "%s/announce/%s", ctl_public_base(c, base, sizeof(base)), name);
	struct buf tw;
	buf_init(&tw, 1u << 16);
	if (twiml_play(&tw, url) < 0)
		fprintf(stderr, "vagentctl: out of memory\n");
	else if (ctl_twilio_call(c, to, from, buf_str(&tw)) == 0)
		rc = 0;
	buf_free(&tw);
	if (rc == 0)
		printf("message %s (%.1f s)\n", url, (double)n / RATE);
out:
	free(s);
	return rc;
}

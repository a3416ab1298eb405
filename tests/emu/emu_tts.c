/*
 * emu_tts.c - speech synthesis for vagent-emu's Cartesia TEST DOUBLE:
 * text in, audio in the requested rate and encoding out, on one thread.
 *
 * Owns: the synthesis thread and espeak-ng. espeak-ng is not thread-safe
 * and keeps global state, so it is initialised, used and terminated on
 * this thread only. A small cache of recent pieces (text, rate, encoding)
 * lives on this thread too. Jobs come in on one mutex-guarded list and go out, in
 * the same order, on another; wake() tells the websocket thread.
 * Never: touches a websocket or another thread's state; sleeps while
 * holding the lock.
 * Fails: espeak-ng failing to start is reported by emu_tts_start (the
 * caller exits); a job that cannot be synthesised comes back with no
 * audio (the Cartesia emulator then just has nothing to send for it).
 */
#include "emu.h"

#include "../../common/audio.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/speak_lib.h>

/* Pieces already spoken, so a benchmark's repeated lines cost no CPU. */
#define CACHE_MAX 64

struct cache_ent {
	char *text;
	int rate;
	enum emu_pcm enc;
	uint8_t *audio;
	size_t len;
	uint64_t used;
};

struct emu_tts {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct emu_tts_job *in_head, *in_tail;	/* guarded by lock */
	struct emu_tts_job *out_head, *out_tail;	/* guarded by lock */
	bool stop;				/* guarded by lock */
	int init_rc;				/* guarded by lock; 1 = pending */
	char init_err[128];
	const char *voice;
	void (*wake)(void *);
	void *wake_arg;
	int espeak_rate;			/* synthesis thread only */
	struct cache_ent cache[CACHE_MAX];	/* synthesis thread only */
	uint64_t tick;
};

/* The growing buffer of one synthesis, handed to espeak as user_data. */
struct pcm_buf {
	int16_t *s;
	size_t n, cap;
	bool oom;
};

size_t emu_pcm_width(enum emu_pcm enc)
{
	switch (enc) {
	case PCM_S16LE:
		return 2;
	case PCM_F32LE:
		return 4;
	default:
		return 1;
	}
}

static int synth_cb(short *wav, int n, espeak_EVENT *ev)
{
	struct pcm_buf *b = ev ? ev->user_data : NULL;

	if (!b || !wav || n <= 0)
		return 0;
	if (b->n + (size_t)n > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 16384) + (size_t)n;
		int16_t *s = realloc(b->s, cap * sizeof(int16_t));

		if (!s) {
			b->oom = true;
			return 1;	/* abort this synthesis */
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->n, wav, (size_t)n * sizeof(int16_t));
	b->n += (size_t)n;
	return 0;
}

static void encode(const int16_t *s, size_t n, enum emu_pcm enc, uint8_t *out)
{
	for (size_t i = 0; i < n; i++) {
		switch (enc) {
		case PCM_S16LE:
			out[2 * i] = (uint8_t)(s[i] & 0xff);
			out[2 * i + 1] = (uint8_t)(((uint16_t)s[i]) >> 8);
			break;
		case PCM_F32LE: {
			float f = (float)s[i] / 32768.0f;
			uint32_t u;

			memcpy(&u, &f, 4);
			for (int k = 0; k < 4; k++)
				out[4 * i + (size_t)k] = (uint8_t)(u >> (8 * k));
			break;
		}
		case PCM_MULAW:
			out[i] = emu_ulaw_encode(s[i]);
			break;
		case PCM_ALAW:
			out[i] = emu_alaw_encode(s[i]);
			break;
		}
	}
}

/* Synthesises job->text into job->audio (rate and encoding of the job). */
static void run_job(struct emu_tts *t, struct emu_tts_job *job)
{
	struct pcm_buf b = { 0 };
	int16_t *rs;
	size_t m, cap;

	if (espeak_Synth(job->text, strlen(job->text) + 1, 0, POS_CHARACTER, 0,
			 espeakCHARS_UTF8, NULL, &b) != EE_OK || b.oom || !b.n) {
		free(b.s);
		return;
	}
	cap = (size_t)((uint64_t)b.n * (uint64_t)job->rate / (uint64_t)t->espeak_rate) + 1;
	rs = malloc(cap * sizeof(int16_t));
	if (!rs) {
		free(b.s);
		return;
	}
	m = audio_resample(b.s, b.n, t->espeak_rate, rs, cap, job->rate);
	free(b.s);
	job->audio = malloc(m * emu_pcm_width(job->enc) + 1);
	if (job->audio) {
		encode(rs, m, job->enc, job->audio);
		job->len = m * emu_pcm_width(job->enc);
	}
	free(rs);
}

static struct cache_ent *cache_find(struct emu_tts *t, const struct emu_tts_job *job)
{
	for (size_t i = 0; i < CACHE_MAX; i++) {
		struct cache_ent *c = &t->cache[i];

		if (c->text && c->rate == job->rate && c->enc == job->enc && !strcmp(c->text, job->text)) {
			c->used = ++t->tick;
			return c;
		}
	}
	return NULL;
}

static void cache_put(struct emu_tts *t, const struct emu_tts_job *job)
{
	struct cache_ent *c = &t->cache[0];

	for (size_t i = 1; i < CACHE_MAX; i++)
		if (t->cache[i].used < c->used)
			c = &t->cache[i];
	free(c->text);
	free(c->audio);
	memset(c, 0, sizeof(*c));
	c->text = strdup(job->text);
	c->audio = malloc(job->len ? job->len : 1);
	if (!c->text || !c->audio) {
		free(c->text);
		free(c->audio);
		memset(c, 0, sizeof(*c));
		return;
	}
	memcpy(c->audio, job->audio, job->len);
	c->len = job->len;
	c->rate = job->rate;
	c->enc = job->enc;
	c->used = ++t->tick;
}

static void cache_free(struct emu_tts *t)
{
	for (size_t i = 0; i < CACHE_MAX; i++) {
		free(t->cache[i].text);
		free(t->cache[i].audio);
	}
}

/* A job from the cache, or synthesised (and then cached). */
static void serve_job(struct emu_tts *t, struct emu_tts_job *job)
{
	struct cache_ent *c = cache_find(t, job);

	if (c) {
		job->audio = malloc(c->len ? c->len : 1);
		if (job->audio) {
			memcpy(job->audio, c->audio, c->len);
			job->len = c->len;
		}
		return;
	}
	run_job(t, job);
	if (job->audio)
		cache_put(t, job);
}

static int init_espeak(struct emu_tts *t)
{
	t->espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL, 0);
	if (t->espeak_rate <= 0) {
		snprintf(t->init_err, sizeof(t->init_err), "espeak-ng failed to initialise");
		return -EIO;
	}
	espeak_SetSynthCallback(synth_cb);
	if (espeak_SetVoiceByName(t->voice) != EE_OK &&
	    espeak_SetVoiceByName("en") != EE_OK) {
		snprintf(t->init_err, sizeof(t->init_err), "espeak-ng has no voice \"%s\" (nor \"en\")",
			 t->voice);
		espeak_Terminate();
		return -ENOENT;
	}
	return 0;
}

static void *tts_main(void *arg)
{
	struct emu_tts *t = arg;
	int rc = init_espeak(t);

	pthread_mutex_lock(&t->lock);
	t->init_rc = rc;
	pthread_cond_broadcast(&t->cond);
	while (!rc) {
		struct emu_tts_job *job;

		while (!t->stop && !t->in_head)
			pthread_cond_wait(&t->cond, &t->lock);
		if (t->stop)
			break;
		job = t->in_head;
		t->in_head = job->next;
		if (!t->in_head)
			t->in_tail = NULL;
		pthread_mutex_unlock(&t->lock);

		job->next = NULL;
		serve_job(t, job);

		pthread_mutex_lock(&t->lock);
		if (t->out_tail)
			t->out_tail->next = job;
		else
			t->out_head = job;
		t->out_tail = job;
		pthread_mutex_unlock(&t->lock);
		t->wake(t->wake_arg);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	cache_free(t);
	if (!rc)
		espeak_Terminate();
	return NULL;
}

int emu_tts_start(const char *voice, void (*wake)(void *), void *arg,
		  struct emu_tts **out, char *err, size_t errlen)
{
	struct emu_tts *t = calloc(1, sizeof(*t));
	int rc;

	if (!t)
		return -ENOMEM;
	t->voice = voice;
	t->wake = wake;
	t->wake_arg = arg;
	t->init_rc = 1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->cond, NULL);
	rc = -pthread_create(&t->thread, NULL, tts_main, t);
	if (rc) {
		snprintf(err, errlen, "cannot start the synthesis thread: %s", strerror(-rc));
		free(t);
		return rc;
	}
	pthread_mutex_lock(&t->lock);
	while (t->init_rc == 1)
		pthread_cond_wait(&t->cond, &t->lock);
	rc = t->init_rc;
	pthread_mutex_unlock(&t->lock);
	if (rc) {
		snprintf(err, errlen, "%s", t->init_err);
		pthread_join(t->thread, NULL);
		pthread_mutex_destroy(&t->lock);
		pthread_cond_destroy(&t->cond);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void emu_tts_submit(struct emu_tts *t, struct emu_tts_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&t->lock);
	if (t->in_tail)
		t->in_tail->next = job;
	else
		t->in_head = job;
	t->in_tail = job;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
}

struct emu_tts_job *emu_tts_take(struct emu_tts *t)
{
	struct emu_tts_job *j;

	pthread_mutex_lock(&t->lock);
	j = t->out_head;
	t->out_head = t->out_tail = NULL;
	pthread_mutex_unlock(&t->lock);
	return j;
}

void emu_tts_job_free(struct emu_tts_job *job)
{
	if (!job)
		return;
	free(job->text);
	free(job->audio);
	free(job);
}

static void free_list(struct emu_tts_job *j)
{
	while (j) {
		struct emu_tts_job *next = j->next;

		emu_tts_job_free(j);
		j = next;
	}
}

void emu_tts_stop(struct emu_tts *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
	free_list(t->in_head);
	free_list(t->out_head);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->cond);
	free(t);
}

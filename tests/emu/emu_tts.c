/*
 * emu_tts.c - speech synthesis for vagent-emu's Cartesia TEST DOUBLE:
 * text in, audio in the requested rate and encoding out, on one thread.
 *
 * Owns: the synthesis thread and espeak-ng. espeak-ng is not thread-safe
 * and keeps global state, so it is initialised, used and terminated on
 * this thread only. Each distinct piece (text, rate, encoding; the voice
 * is one per process) is synthesised once: a cache of finished audio,
 * bounded by bytes and evicting the least recently used, lives on this
 * thread too, so a benchmark's repeated replies cost a memcpy, not espeak. Jobs come in on one mutex-guarded list and go out, in
 * the same order, on another; wake() tells the websocket thread.
 * Never: touches a websocket or another thread's state; sleeps while
 * holding the lock.
 * Fails: espeak-ng failing to start is reported by emu_tts_start (the
 * caller exits); a job that cannot be synthesised comes back with no
 * audio (the Cartesia emulator then just has nothing to send for it).
 */
#include "emu.h"

#include "../../common/audio.h"
#include "../../common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/speak_lib.h>

/* Audio kept for repeated pieces (about 35 minutes of 8 kHz s16). */
#define CACHE_BYTES ((size_t)32 << 20)

struct cache_ent {
	struct cache_ent *prev, *next;	/* most recently used first */
	uint64_t hash;
	char *text;
	int rate;
	enum emu_pcm enc;
	uint8_t *audio;
	size_t len;
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
	struct cache_ent *lru_head, *lru_tail;	/* synthesis thread only */
	size_t cache_bytes;
	/* counts, synthesis thread only (read after it ended) */
	uint64_t jobs, synthesised, hits, evicted;
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

static uint64_t piece_hash(const char *text, int rate, enum emu_pcm enc)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)rate ^ ((uint64_t)enc << 32);

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;	/* FNV-1a */
	return h;
}

static void lru_unlink(struct emu_tts *t, struct cache_ent *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		t->lru_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->lru_tail = c->prev;
	c->prev = c->next = NULL;
}

static void lru_push_front(struct emu_tts *t, struct cache_ent *c)
{
	c->prev = NULL;
	c->next = t->lru_head;
	if (t->lru_head)
		t->lru_head->prev = c;
	else
		t->lru_tail = c;
	t->lru_head = c;
}

static size_t ent_bytes(const struct cache_ent *c)
{
	return sizeof(*c) + strlen(c->text) + 1 + c->len;
}

static void ent_free(struct emu_tts *t, struct cache_ent *c)
{
	lru_unlink(t, c);
	t->cache_bytes -= ent_bytes(c);
	free(c->text);
	free(c->audio);
	free(c);
}

static struct cache_ent *cache_find(struct emu_tts *t, const struct emu_tts_job *job, uint64_t h)
{
	for (struct cache_ent *c = t->lru_head; c; c = c->next) {
		if (c->hash == h && c->rate == job->rate && c->enc == job->enc &&
		    !strcmp(c->text, job->text)) {
			lru_unlink(t, c);
			lru_push_front(t, c);
			return c;
		}
	}
	return NULL;
}

/* Keeps a copy of the job's audio; the oldest go while over CACHE_BYTES. */
static void cache_put(struct emu_tts *t, const struct emu_tts_job *job, uint64_t h)
{
	struct cache_ent *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->text = strdup(job->text);
	c->audio = malloc(job->len ? job->len : 1);
	if (!c->text || !c->audio) {
		free(c->text);
		free(c->audio);
		free(c);
		return;
	}
	memcpy(c->audio, job->audio, job->len);
	c->len = job->len;
	c->rate = job->rate;
	c->enc = job->enc;
	c->hash = h;
	lru_push_front(t, c);
	t->cache_bytes += ent_bytes(c);
	while (t->cache_bytes > CACHE_BYTES && t->lru_tail != c) {
		ent_free(t, t->lru_tail);
		t->evicted++;
	}
}

static void cache_free(struct emu_tts *t)
{
	while (t->lru_head)
		ent_free(t, t->lru_head);
}

/* A job from the cache, or synthesised (and then cached). */
static void serve_job(struct emu_tts *t, struct emu_tts_job *job)
{
	uint64_t h = piece_hash(job->text, job->rate, job->enc);
	struct cache_ent *c = cache_find(t, job, h);

	t->jobs++;
	if (c) {
		t->hits++;
		job->audio = malloc(c->len ? c->len : 1);
		if (job->audio) {
			memcpy(job->audio, c->audio, c->len);
			job->len = c->len;
		}
		return;
	}
	t->synthesised++;
	run_job(t, job);
	if (job->audio)
		cache_put(t, job, h);
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
	if (!rc)
		log_info("tts", NULL, "synthesis: %llu pieces, %llu spoken by espeak-ng, %llu from "
			 "the cache (%zu kB kept, %llu evicted)", (unsigned long long)t->jobs,
			 (unsigned long long)t->synthesised, (unsigned long long)t->hits,
			 t->cache_bytes / 1024, (unsigned long long)t->evicted);
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

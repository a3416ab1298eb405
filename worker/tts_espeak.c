/*
 * tts_espeak.c - the local voice: espeak-ng in the worker, behind tts.h,
 * for while the TTS provider is down.
 *
 * Owns: a reply's text until a sentence of it is complete (or the reply
 * is finished), its synthesis by libespeak-ng (22050 Hz), the conversion
 * to the call's rate (resample.h) and the audio's way into the playout,
 * then the reply's done. Robotic but understood: a caller still hears
 * the agent and still gets booked.
 *
 * Synthesis runs on the main loop, off a zero-delay event (start() and
 * text() never call back from inside themselves, as tts.h asks), a
 * sentence at a time: espeak-ng is many times faster than real time, so
 * a sentence holds the loop for a few milliseconds while the playout's
 * ring still holds the audio before it. espeak-ng keeps its state in the
 * library, one per process; a worker serves one call at a time, so the
 * one instance is initialised on first use and kept (the flag below
 * mirrors the library's own state, not ours).
 *
 * Fails: espeak-ng that cannot start fails start() with -EIO; a sentence
 * it cannot say is skipped (logged) and the reply still gets its done.
 */
#include <errno.h>
#include <event2/event.h>
#include <espeak-ng/speak_lib.h>
#include <stdlib.h>
#include <string.h>

#include "../common/buf.h"
#include "../common/conf.h"
#include "../common/log.h"
#include "playout.h"
#include "resample.h"
#include "tts.h"
#include "ws.h"

struct tts {
	struct playout *po;
	struct event *synth_ev;
	const struct tts_events *ev;
	void *arg;
	int rate;
	char uuid[40];
	uint32_t ctx;			/* the reply being said; 0 after a cancel */
	struct buf text;		/* its text not yet synthesised */
	bool finished;			/* finish() came for ctx */
};

/* The library's one instance in this process (see the header). */
static int espeak_rate;

/* The audio of one synthesis, handed to espeak-ng as user_data. */
struct pcm {
	int16_t *s;
	size_t n, cap;
	bool oom;
};

static int on_synth(short *wav, int n, espeak_EVENT *events)
{
	struct pcm *p = events ? events->user_data : NULL;

	if (!p || !wav || n <= 0)
		return 0;
	if (p->n + (size_t)n > p->cap) {
		size_t cap = (p->cap ? p->cap * 2 : 32768) + (size_t)n;
		int16_t *s = realloc(p->s, cap * sizeof(*s));
		if (!s) {
			p->oom = true;
			return 1;	/* stops this synthesis */
		}
		p->s = s;
		p->cap = cap;
	}
	memcpy(p->s + p->n, wav, (size_t)n * sizeof(*wav));
	p->n += (size_t)n;
	return 0;
}

static int espeak_ready(void)
{
	if (espeak_rate > 0)
		return 0;
	int rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
	if (rate <= 0)
		return -EIO;
	espeak_SetSynthCallback(on_synth);
	espeak_rate = rate;
	return 0;
}

/* Says text (len bytes) into the playout for ctx, at the call's rate. */
static void say(struct tts *t, const char *text, size_t len)
{
	struct pcm p = { 0 };
	char *z = strndup(text, len);

	if (!z || espeak_Synth(z, len + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, &p) !=
		  EE_OK || p.oom) {
		log_warn("tts", t->uuid, "local voice: cannot say \"%.60s\"", z ? z : "");
		free(z);
		free(p.s);
		return;
	}
	free(z);
	size_t m = resample_len(p.n, espeak_rate, t->rate);
	int16_t *out = malloc((m ? m : 1) * sizeof(*out));
	uint8_t *le = malloc((m ? m : 1) * 2);
	if (out && le) {
		m = resample(p.s, p.n, espeak_rate, out, t->rate);
		for (size_t i = 0; i < m; i++) {	/* the playout takes little-endian */
			le[2 * i] = (uint8_t)((uint16_t)out[i] & 0xff);
			le[2 * i + 1] = (uint8_t)((uint16_t)out[i] >> 8);
		}
		if (m && playout_audio(t->po, t->ctx, le, m * 2) < 0)
			log_debug("tts", t->uuid, "local voice: audio dropped");
	}
	free(out);
	free(le);
	free(p.s);
}

/* Where the text can be cut: after the last sentence end, else 0. */
static size_t sentence_end(const struct buf *b)
{
	const char *s = buf_str(b);

	for (size_t i = b->len; i > 0; i--)
		if (strchr(".!?", s[i - 1]) && (i == b->len || s[i] == ' '))
			return i;
	return 0;
}

static void on_synth_ev(evutil_socket_t fd, short what, void *arg)
{
	struct tts *t = arg;
	uint32_t ctx = t->ctx;
	size_t n = t->finished ? t->text.len : sentence_end(&t->text);
	(void)fd; (void)what;

	if (!ctx)
		return;
	if (n) {
		say(t, buf_str(&t->text), n);
		buf_consume(&t->text, n);
	}
	if (t->finished && ctx == t->ctx) {
		t->ctx = 0;
		playout_done(t->po, ctx);
		t->ev->on_done(t->arg, ctx);	/* last: the agent may begin the next reply */
	}
}

static void kick(struct tts *t)
{
	static const struct timeval now = { 0, 0 };

	event_add(t->synth_ev, &now);
}

static void wake(void *arg)
{
	struct tts *t = arg;

	playout_push(t->po);
}

static int start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		 struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t;
	int rc;

	*out = NULL;
	if ((rc = espeak_ready()) < 0)
		return rc;
	if (espeak_SetVoiceByName(c->local_fallback_voice) != EE_OK)
		log_warn("tts", uuid, "local voice: no espeak-ng voice '%s': the default speaks",
			 c->local_fallback_voice);
	if (!(t = calloc(1, sizeof(*t))))
		return -ENOMEM;
	t->synth_ev = event_new(ws_loop_base(loop), -1, 0, on_synth_ev, t);
	if (!t->synth_ev) {
		free(t);
		return -ENOMEM;
	}
	t->po = po;
	t->ev = ev;
	t->arg = arg;
	t->rate = rate;
	snprintf(t->uuid, sizeof(t->uuid), "%s", uuid);
	buf_init(&t->text, 0);
	playout_attach(po, wake, t);
	*out = t;
	return 0;
}

static uint32_t begin(struct tts *t)
{
	/* A reply not yet said (its event pending) is said now, ahead of this
	 * one; its done goes to the playout only: the agent has moved on. */
	if (t->ctx) {
		if (t->text.len)
			say(t, buf_str(&t->text), t->text.len);
		playout_done(t->po, t->ctx);
	}
	buf_reset(&t->text);
	t->finished = false;
	t->ctx = playout_begin(t->po);
	return t->ctx;
}

static int text(struct tts *t, const char *s, size_t len)
{
	if (!t->ctx || t->finished)
		return -EINVAL;
	int rc = buf_append(&t->text, s, len);
	if (rc == 0 && sentence_end(&t->text))
		kick(t);
	return rc;
}

static int finish(struct tts *t)
{
	if (!t->ctx)
		return -EINVAL;
	t->finished = true;
	kick(t);
	return 0;
}

static void cancel(struct tts *t)
{
	playout_cancel(t->po);
	t->ctx = 0;
	buf_reset(&t->text);
}

static void stop(struct tts *t)
{
	if (!t)
		return;
	event_free(t->synth_ev);
	playout_detach(t->po);
	buf_free(&t->text);
	free(t);
}

const struct tts_ops tts_espeak = {
	"espeak", start, begin, text, finish, cancel, stop,
};

/*
 * relay_io.c - the local engine's ears and voice on a ConversationRelay
 * call: stt_relay and tts_relay, the ops of stt.h and tts.h over the
 * call's own socket (call_relay.h).
 *
 * stt_relay: a final prompt is a final transcript that ends the caller's
 * utterance; an interrupt passes on what of the agent's reply Twilio said
 * before the caller talked over it (on_heard). No audio is read.
 *
 * tts_relay: each reply's tokens go out as text messages as they come, and
 * its end as an empty token with last=true (Twilio's end of a talk cycle);
 * a cancelled reply is closed the same way. The reply is "done" once all
 * of it is sent: what was played is Twilio's to know, and an interrupt
 * says what was not. The first reply of the call, the greeting, is not
 * sent when the caller has not spoken yet: the TwiML's welcomeGreeting
 * has Twilio say it as the call opens (the engine keeps it in its history).
 *
 * Never: calls back from inside start(); touches the socket before the
 * engine binds it (relay_bind).
 */
#include <errno.h>
#include <stdlib.h>

#include "call_relay.h"
#include "stt.h"
#include "tts.h"
#include "twilio_relay_wire.h"

struct stt {
	const struct stt_events *ev;
	void *arg;
};

struct tts {
	struct relay *r;
	const struct tts_events *ev;
	void *arg;
	uint32_t ctx;
	bool open;		/* the current reply has not ended its talk cycle */
	bool silent;		/* the current reply is the greeting Twilio says */
};

/* ---- stt_relay ---- */

static int stt_start(struct stt **out, struct ws_loop *loop, const struct conf *c, int rate,
		     struct ring *audio, const char *uuid, const struct stt_events *ev, void *arg)
{
	struct stt *s = calloc(1, sizeof(*s));
	(void)loop; (void)c; (void)rate; (void)audio; (void)uuid;

	*out = s;
	if (!s)
		return -ENOMEM;
	s->ev = ev;
	s->arg = arg;
	return 0;
}

static void stt_audio(struct stt *s)
{
	(void)s;	/* Twilio hears the caller: no audio comes here */
}

static void stt_stop(struct stt *s)
{
	free(s);
}

void stt_relay_prompt(struct stt *s, const char *text)
{
	if (*text)
		s->ev->on_final(s->arg, text, true);
}

void stt_relay_interrupt(struct stt *s, const char *heard)
{
	if (s->ev->on_heard)
		s->ev->on_heard(s->arg, heard);
}

const struct stt_ops stt_relay = {
	.name = "twilio-relay",
	.start = stt_start,
	.audio = stt_audio,
	.stop = stt_stop,
};

/* ---- tts_relay ---- */

static int tts_start(struct tts **out, struct ws_loop *loop, const struct conf *c, int rate,
		     struct playout *po, const char *uuid, const struct tts_events *ev, void *arg)
{
	struct tts *t = calloc(1, sizeof(*t));
	(void)loop; (void)c; (void)rate; (void)po; (void)uuid;

	*out = t;
	if (!t)
		return -ENOMEM;
	t->ev = ev;
	t->arg = arg;
	return 0;
}

void tts_relay_attach(struct tts *t, struct relay *r)
{
	t->r = r;
}

static uint32_t tts_begin(struct tts *t)
{
	t->ctx++;
	t->open = true;
	t->silent = t->ctx == 1 && t->r && !relay_prompts(t->r);
	return t->ctx;
}

static int send_token(struct tts *t, const char *text, size_t len, bool last)
{
	if (t->silent)
		return 0;
	if (!t->r)
		return -ENOTCONN;
	return relay_send(t->r, tr_text(text, len, last));
}

static int tts_text(struct tts *t, const char *text, size_t len)
{
	return t->open ? send_token(t, text, len, false) : -ENOTCONN;
}

static int tts_finish(struct tts *t)
{
	int rc;

	if (!t->open)
		return -ENOTCONN;
	rc = send_token(t, "", 0, true);
	t->open = false;
	t->ev->on_done(t->arg, t->ctx);		/* all of it is Twilio's now */
	return rc;
}

static void tts_cancel(struct tts *t)
{
	if (t->open)
		(void)send_token(t, "", 0, true);	/* its talk cycle ends here */
	t->open = false;
}

static void tts_stop(struct tts *t)
{
	free(t);
}

const struct tts_ops tts_relay = {
	.name = "twilio-relay",
	.start = tts_start,
	.begin = tts_begin,
	.text = tts_text,
	.finish = tts_finish,
	.cancel = tts_cancel,
	.stop = tts_stop,
};

/*
 * call_relay.c - the Twilio ConversationRelay transport (protocols.md 6.6).
 *
 * Twilio dials in on the same listener as Media Streams; the upgrade's
 * path tells them apart: /twilio/relay (the URL the api's TwiML gives) is
 * taken over here from call_twilio.c, after checking X-Twilio-Signature
 * against that URL's wss:// form when an auth token is configured.
 *
 * Only text crosses: Twilio hears the caller and speaks for the agent.
 * setup names the call (callSid; DID and caller from the customParameters
 * "did" and "caller" the TwiML set) and starts the engine at once, with
 * no audio. Final prompts are the caller's turns and an interrupt says
 * what of the agent's reply the caller heard (both to stt_relay); dtmf
 * goes to the keypad path like any call's. The agent's replies go out as
 * text tokens (tts_relay). The call ends with `end`, whose handoffData
 * carries a hand-off's details (or {"reason":"completed"}), then a close.
 *
 * The runtime's pacer still ticks (the engine's housekeeping rides on it)
 * but sends nothing; as Twilio sends nothing while the caller is quiet,
 * an open socket is what says the caller is there (idle_timeout).
 *
 * Fails: a malformed message, anything before setup, a second setup, or
 * an engine that cannot take text ends the call with a logged reason.
 */
#include "call_rt.h"
#include "call_relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/conf.h"
#include "../common/log.h"
#include "../common/twilio_sig.h"
#include "../common/vg_time.h"
#include "../ipc/ring.h"
#include "twilio_relay_wire.h"
#include "ws_server.h"

#define RATE 8000		/* the engine's nominal rate: no audio flows */
#define PATH "/twilio/relay"
#define DRAIN 160

struct relay {
	struct call *call;
	struct ws_srv *ws;
	struct stt *stt;	/* the engine's, once bound */
	struct tts *tts;
	char *handoff;		/* handoffData for the end; NULL: none */
	uint64_t prompts, sent, interrupts;
};

static const struct call_transport relay_tp;

struct relay *call_relay(struct call *c)
{
	return call_rt_transport(c) == &relay_tp ? call_rt_tp(c) : NULL;
}

void relay_bind(struct relay *r, struct stt *s, struct tts *t)
{
	r->stt = s;
	r->tts = t;
	if (t)
		tts_relay_attach(t, r);
}

uint64_t relay_prompts(const struct relay *r)
{
	return r->prompts;
}

int relay_send(struct relay *r, char *msg)
{
	int rc = msg ? ws_srv_send_text(r->ws, msg, strlen(msg)) : -ENOMEM;

	if (rc == 0)
		r->sent++;
	free(msg);
	return rc;
}

void relay_handoff(struct call *c, const char *data, size_t len)
{
	struct relay *r = call_relay(c);

	if (!r)
		return;
	free(r->handoff);
	r->handoff = strndup(data, len);
}

/* ---- transport ops ---- */

/* Nothing to send: whatever an engine wrote is dropped (Twilio speaks). */
static int rl_pace(struct call *c, bool *drained)
{
	int16_t s[DRAIN];

	while (call_rt_take(c, s, DRAIN))
		;
	call_rt_rx(c, mono_ns(), false);	/* the socket is open: the caller is there */
	*drained = true;
	return 0;
}

static void rl_hangup(struct call *c)
{
	struct relay *r = call_rt_tp(c);
	const char *data = r->handoff ? r->handoff : "{\"reason\":\"completed\"}";

	if (relay_send(r, tr_end(data)) < 0)
		log_warn("call", call_uuid(c), "twilio relay: end not sent");
}

static void rl_close(struct call *c)
{
	struct relay *r = call_rt_tp(c);

	if (call_rt_begun(c))
		log_info("call", call_uuid(c), "twilio relay: %" PRIu64 " prompts, %" PRIu64
			 " interrupts, %" PRIu64 " messages sent", r->prompts, r->interrupts,
			 r->sent);
	ws_srv_close(r->ws);	/* queued messages, then a normal close */
	free(r->handoff);
	free(r);
}

static const struct call_transport relay_tp = {
	.name = "twilio-relay",
	.pace = rl_pace,
	.hangup = rl_hangup,
	.close = rl_close,
};

/* ---- inbound ---- */

static void on_setup(struct relay *r, const struct tr_msg *m)
{
	struct call *c = r->call;

	if (call_rt_begun(c)) {
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio relay: protocol: a second setup");
		return;
	}
	call_rt_begin(c, m->call_sid, m->did, m->caller);
	if (call_rt_start(c, RATE) < 0)
		return;
	if (!r->stt || !r->tts)
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio relay: the call's engine does "
			    "not take text (only the local engine runs over ConversationRelay)");
}

static void dispatch(struct relay *r, const struct tr_msg *m)
{
	struct call *c = r->call;

	switch (m->type) {
	case TR_SETUP:
		on_setup(r, m);
		return;
	case TR_PROMPT:
		if (!m->last)
			return;		/* partial: the final one is the turn */
		r->prompts++;
		stt_relay_prompt(r->stt, m->text);
		return;
	case TR_INTERRUPT:
		r->interrupts++;
		stt_relay_interrupt(r->stt, m->text);
		return;
	case TR_DTMF:
		call_rt_dtmf(c, m->digit);
		return;
	case TR_ERROR:
		log_warn("call", call_uuid(c), "twilio relay: Twilio reports an error: %.200s",
			 m->text);
		return;
	case TR_OTHER:
		return;
	}
}

static void on_message(void *arg, const char *data, size_t len, bool binary)
{
	struct relay *r = arg;
	struct call *c = r->call;
	struct tr_msg m;
	const char *why = NULL;

	if (call_rt_ended(c))
		return;
	if (binary || tr_parse(data, len, &m, &why) < 0) {
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio relay: protocol: %s",
			    binary ? "a binary message" : why);
		return;
	}
	call_rt_rx(c, mono_ns(), false);
	if (m.type != TR_SETUP && m.type != TR_OTHER && (!call_rt_begun(c) || !r->stt))
		call_rt_end(c, CALL_OUTCOME_FAILED, true, "twilio relay: protocol: a message "
			    "before setup");
	else
		dispatch(r, &m);
	tr_msg_free(&m);
}

static void on_close(void *arg, const char *why)
{
	struct relay *r = arg;

	call_rt_end(r->call, CALL_OUTCOME_OK, false, "twilio relay: session closed (%s)", why);
}

static bool no_upgrade(void *arg, const char *path, const char *sig)
{
	(void)arg; (void)path; (void)sig;
	return false;	/* taken over inside the upgrade: never asked again */
}

static const struct ws_srv_handlers handlers = {
	.on_upgrade = no_upgrade,
	.on_message = on_message,
	.on_close = on_close,
};

bool call_relay_path(const char *path)
{
	return !strcmp(path, PATH);
}

bool call_relay_take(struct call *c, struct ws_srv *ws, const char *sig)
{
	const struct conf *conf = call_conf(c);
	const char *token = conf->secrets->twilio_token;
	char url[sizeof(conf->twilio_stream_url) + sizeof("/relay")];
	struct relay *r;

	/* Twilio signs the URL it was given: the stream URL's /relay. */
	snprintf(url, sizeof(url), "%s/relay", conf->twilio_stream_url);
	if (token[0] && !twilio_sig_valid(token, url, NULL, NULL, 0, sig)) {
		call_rt_end(c, CALL_OUTCOME_FAILED, false, "twilio relay: upgrade refused: %s "
			    "X-Twilio-Signature", sig ? "wrong" : "no");
		return false;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		call_rt_end(c, CALL_OUTCOME_FAILED, false, "twilio relay: out of memory");
		return false;
	}
	r->call = c;
	r->ws = ws;
	ws_srv_rebind(ws, &handlers, r);
	call_rt_set_transport(c, &relay_tp, r);
	return true;
}

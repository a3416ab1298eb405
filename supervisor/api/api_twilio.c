/*
 * api_twilio.c - Twilio's voice webhook: POST /twilio/voice answers the
 * TwiML that connects a call to us (Media Streams, or ConversationRelay
 * with [twilio] mode = relay) for the DID called; POST /twilio/status takes
 * the status callbacks of the calls vagentctl places; POST /twilio/handoff
 * is the ConversationRelay <Connect action>: Twilio asks it what next
 * once the relay ends, and a hand-off (the end's handoffData, reason
 * other than "completed") is <Dial>led to the DID's handoff_number, or,
 * with none configured, told politely that nobody can take the call.
 *
 * The one exception to "nothing answers without the key": Twilio cannot
 * send our X-API-Key, but it signs every request with the account's auth
 * token (X-Twilio-Signature, common/twilio_sig.h). That signature is the
 * authentication here, checked before anything else is read; a request
 * without a valid one gets 403 and learns nothing. The URL signed is the
 * one Twilio was given ([twilio] public_url + the request's path and
 * query), not the one we see behind the TLS proxy.
 *
 * A DID that is not in did_company_map gets a polite message and a hang-up,
 * as a real line that is not in service would, and one log line.
 *
 * Never: log the token or the signature; answer TwiML to an unsigned request.
 * Fails: a body that is not a form is 400; [twilio] without a public_url or
 * token is 503 (the line is misconfigured, said once per request).
 */
#include "api.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "../../common/buf.h"
#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/twilio_sig.h"
#include "../../common/twiml.h"

#define FORM_PAIRS_MAX 128	/* Twilio sends about 20 */
#define TWIML_MAX 16384
#define NOT_IN_SERVICE "Sorry, this number is not in service. Goodbye."
#define NOBODY_FREE "Sorry, nobody can take your call just now. Please call again later. Goodbye."
#define HANDOFF_PATH "/twilio/handoff"

/* The request's form parameters, parsed (q) and as arrays for the signature. */
struct form {
	struct evkeyvalq q;
	const char *names[FORM_PAIRS_MAX], *values[FORM_PAIRS_MAX];
	size_t n;
};

/* 0, or an HTTP status with the reason already answered. */
static int form_parse(struct api *a, struct evhttp_request *req, enum api_endpoint ep,
		      int64_t t0, struct form *f)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct evkeyval *kv;
	char *text;

	TAILQ_INIT(&f->q);
	f->n = 0;
	if (len > (size_t)a->conf->api_max_body) {
		api_error(a, req, 413, ep, t0, "request body over %d bytes", a->conf->api_max_body);
		return 413;
	}
	if (!(text = malloc(len + 1))) {
		api_error(a, req, 503, ep, t0, "out of memory");
		return 503;
	}
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	int bad = memchr(text, '\0', len) || evhttp_parse_query_str(text, &f->q) < 0;
	free(text);
	TAILQ_FOREACH(kv, &f->q, next) {
		if (f->n == FORM_PAIRS_MAX) {
			bad = 1;
			break;
		}
		f->names[f->n] = kv->key;
		f->values[f->n++] = kv->value;
	}
	if (bad) {
		api_error(a, req, 400, ep, t0, "the body is not a form Twilio would send");
		return 400;
	}
	return 0;
}

/*
 * Twilio's signature over public_url + the request-target. false: answered
 * (503 misconfigured, 403 not signed by our account).
 */
static bool signed_by_twilio(struct api *a, struct evhttp_request *req, const struct form *f,
			     enum api_endpoint ep, int64_t t0)
{
	const struct conf *c = a->conf;
	const char *target = evhttp_request_get_uri(req);
	const char *sig = evhttp_find_header(evhttp_request_get_input_headers(req),
					     "X-Twilio-Signature");
	size_t base = strlen(c->tw_public_url);
	char url[1280];

	if (!c->tw_public_url[0] || !c->secrets->twilio_token[0]) {
		api_error(a, req, 503, ep, t0, "[twilio] public_url and auth_token_file are not set");
		return false;
	}
	while (base && c->tw_public_url[base - 1] == '/')
		base--;
	if (!target || target[0] != '/' ||
	    snprintf(url, sizeof(url), "%.*s%s", (int)base, c->tw_public_url, target) >=
	    (int)sizeof(url) ||
	    !twilio_sig_valid(c->secrets->twilio_token, url, f->names, f->values, f->n, sig)) {
		api_error(a, req, 403, ep, t0, "%s X-Twilio-Signature", sig ? "invalid" : "no");
		return false;
	}
	const char *acct = evhttp_find_header(&f->q, "AccountSid");
	if (c->tw_account_sid[0] && (!acct || strcmp(acct, c->tw_account_sid))) {
		api_error(a, req, 403, ep, t0, "signed, but for another account");
		return false;
	}
	return true;
}

static void send_twiml(struct api *a, struct evhttp_request *req, struct buf *b, int rc,
		       enum api_endpoint ep, int64_t t0)
{
	if (rc < 0) {
		api_error(a, req, 500, ep, t0, "cannot build the TwiML");
		return;
	}
	api_send_bytes(a, req, 200, "text/xml; charset=utf-8", b->data, b->len, ep, t0);
}

/* "+44 20..." -> "4420...": how did_company_map writes a DID. */
static void digits_of(const char *s, char *out, size_t len)
{
	size_t n = 0;

	for (; s && *s && n + 1 < len; s++)
		if (*s >= '0' && *s <= '9')
			out[n++] = *s;
	out[n] = '\0';
}

/* The answer for a DID we serve: the call comes to us, with who called whom. */
static int connect_twiml(const struct conf *c, const struct did_entry *d, const char *to,
			 const char *from, struct buf *b)
{
	const char *names[] = { "did", "caller" }, *values[] = { to, from };
	char greeting[1100], action[320];
	size_t base = strlen(c->tw_public_url);

	while (base && c->tw_public_url[base - 1] == '/')
		base--;
	snprintf(action, sizeof(action), "%.*s" HANDOFF_PATH, (int)base, c->tw_public_url);

	snprintf(greeting, sizeof(greeting), "Thank you for calling %s. How can I help you?",
		 d->name);
	struct twiml_connect t = {
		.public_url = c->tw_public_url, .relay = c->tw_relay, .greeting = greeting,
		.action = c->tw_relay ? action : NULL,	/* where the relay's handoffData goes */
		.language = c->tw_relay_language, .tts_provider = c->tw_relay_tts,
		.voice = c->tw_relay_voice, .transcription_provider = c->tw_relay_stt,
		.names = names, .values = values, .n = 2,
	};
	return twiml_connect(b, &t);
}

void api_twilio_voice(struct api *a, struct evhttp_request *req, int64_t t0)
{
	const enum api_endpoint ep = API_EP_TWILIO;
	struct form f;
	struct buf b;
	char did[64];
	int rc;

	if (form_parse(a, req, ep, t0, &f) != 0)
		goto out;
	if (!signed_by_twilio(a, req, &f, ep, t0))
		goto out;
	const char *to = evhttp_find_header(&f.q, "To") ?: "";
	const char *from = evhttp_find_header(&f.q, "From") ?: "";
	const char *sid = evhttp_find_header(&f.q, "CallSid");
	digits_of(to, did, sizeof(did));
	const struct did_entry *d = did[0] ? api_did_find(a, did) : NULL;

	buf_init(&b, TWIML_MAX);
	if (d) {
		rc = connect_twiml(a->conf, d, to, from, &b);
		log_info("api", sid, "twilio: call to %s (%s): %s", did, d->name,
			 a->conf->tw_relay ? "ConversationRelay" : "Media Stream");
	} else {
		rc = twiml_say_hangup(&b, NOT_IN_SERVICE);
		log_warn("api", sid, "twilio: call to %s: not in did_company_map; said it is not "
			 "in service", did[0] ? did : "(no number)");
	}
	send_twiml(a, req, &b, rc, ep, t0);
	buf_free(&b);
out:
	evhttp_clear_headers(&f.q);
}

void api_twilio_status(struct api *a, struct evhttp_request *req, int64_t t0)
{
	const enum api_endpoint ep = API_EP_TWILIO;
	struct form f;

	if (form_parse(a, req, ep, t0, &f) == 0 && signed_by_twilio(a, req, &f, ep, t0)) {
		const char *st = evhttp_find_header(&f.q, "CallStatus");
		log_info("api", evhttp_find_header(&f.q, "CallSid"), "twilio: call to %.40s: %.40s",
			 evhttp_find_header(&f.q, "To") ?: "?", st ? st : "?");
		api_send_bytes(a, req, 204, "text/plain", NULL, 0, ep, t0);
	}
	evhttp_clear_headers(&f.q);
}

/* "completed" (or no HandoffData at all) is a call that is over; anything else a hand-off. */
static bool wants_person(const char *handoff, char *reason, size_t len)
{
	json_t *j = handoff ? json_loads(handoff, 0, NULL) : NULL;
	const char *r = json_string_value(json_object_get(j, "reason"));

	snprintf(reason, len, "%s", r ? r : handoff ? "unknown" : "completed");
	json_decref(j);
	return strcmp(reason, "completed") != 0;
}

void api_twilio_handoff(struct api *a, struct evhttp_request *req, int64_t t0)
{
	const enum api_endpoint ep = API_EP_TWILIO;
	struct form f;
	struct buf b;
	char did[64], reason[64];
	int rc;

	if (form_parse(a, req, ep, t0, &f) != 0 || !signed_by_twilio(a, req, &f, ep, t0))
		goto out;
	const char *sid = evhttp_find_header(&f.q, "CallSid");
	const char *dir = evhttp_find_header(&f.q, "Direction") ?: "inbound";
	/* Our number is the one called, or on a call we placed the one calling. */
	digits_of(evhttp_find_header(&f.q, strncmp(dir, "outbound", 8) ? "To" : "From"), did + 1,
		  sizeof(did) - 1);
	did[0] = '+';
	const char *number = conf_handoff_number_for(a->conf, did + 1);
	if (!number[0])
		number = conf_handoff_number_for(a->conf, did);
	buf_init(&b, TWIML_MAX);
	if (!wants_person(evhttp_find_header(&f.q, "HandoffData"), reason, sizeof(reason))) {
		rc = twiml_hangup(&b);
	} else if (number[0]) {
		rc = twiml_dial(&b, NULL, number);
		log_info("api", sid, "twilio: hand-off (%s) of a call to %s: dialling %s", reason,
			 did, number);
	} else {
		rc = twiml_say_hangup(&b, NOBODY_FREE);
		log_warn("api", sid, "twilio: hand-off (%s) of a call to %s, but no [twilio] "
			 "handoff_number: said nobody is free", reason, did);
	}
	send_twiml(a, req, &b, rc, ep, t0);
	buf_free(&b);
out:
	evhttp_clear_headers(&f.q);
}

/*
 * agent_booking.c - create_booking from a call: the agent's arguments
 * plus what the call already knows, checked by the same rules as the
 * api's create_booking, put in this worker's record queue, and answered
 * once the booking-writer has it on disk.
 *
 * Shared by the local agent's tool (agent_tools.c) and the ElevenLabs
 * bridge's client tool (eng_elevenlabs.c): the phone, DID, company, fee
 * and repeat flag come from the call's context and are never taken from
 * the model. The reference comes from the call and the booking, so a
 * model that calls twice books once.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/booking/booking.h"
#include "../common/booking/rec_put.h"
#include "../common/log.h"
#include "../common/vg_time.h"
#include "agent.h"
#include "call.h"
#include "worker.h"

#define POLL_US 2000
#define JOURNAL_WAIT_NS (2 * NS_PER_S)

struct agent_booking {
	struct worker *w;
	char uuid[40];
	uint64_t seq;
	int64_t deadline;
	char ref[17], who[300];
	struct event *ev;		/* polling the acknowledgement, or the refusal */
	json_t *refused;		/* the answer a refusal waits to give */
	void (*done)(void *arg, json_t *result, bool booked);
	void *arg;
};

static void finish(struct agent_booking *b, json_t *result, bool booked)
{
	b->done(b->arg, result, booked);	/* may cancel b: nothing after this */
}

static void answer_refusal(evutil_socket_t fd, short what, void *arg)
{
	struct agent_booking *b = arg;
	json_t *result = b->refused;
	(void)fd; (void)what;

	b->refused = NULL;
	finish(b, result, false);
}

/*
 * A booking refused at once is still answered from the main loop: the
 * caller may be walking its own list of tool calls, which the answer can
 * end and free.
 */
static void refuse(struct agent_booking *b, json_t *result)
{
	b->refused = result;
	if (!b->ev)
		b->ev = event_new(b->w->base, -1, 0, answer_refusal, b);
	if (b->ev)
		event_active(b->ev, 0, 0);
	else
		answer_refusal(-1, 0, b);	/* no memory for an event: answer now */
}

static void booking_poll(evutil_socket_t fd, short what, void *arg)
{
	struct agent_booking *b = arg;
	struct recq *q = region_recq(b->w->region.base, &b->w->hdr);
	struct timeval tv = { 0, POLL_US };
	char msg[400];
	(void)fd; (void)what;

	if (recq_state(q, b->seq) >= RECQ_JOURNALED) {
		snprintf(msg, sizeof(msg), "Booking %s made for %s", b->ref, b->who);
		log_info("agent", b->uuid, "booking %s journaled", b->ref);
		finish(b, json_pack("{s:b, s:s, s:s}", "success", 1, "booking_ref", b->ref,
				    "message", msg), true);
	} else if (mono_ns() > b->deadline) {
		log_error("agent", b->uuid, "booking %s not journaled in time", b->ref);
		finish(b, json_pack("{s:b, s:s}", "success", 0, "error",
				    "the booking system did not confirm; try once more"), false);
	} else {
		event_add(b->ev, &tv);
	}
}

/* The model's arguments plus what the call already knows. */
static json_t *booking_fields(struct call *c, json_t *vars, json_t *args, const char *source)
{
	json_t *b = json_deep_copy(json_is_object(args) ? args : NULL);

	if (!b)
		b = json_object();
	json_object_set_new(b, "customer_phone", json_string(call_cli(c)[0] ?
			    call_cli(c) : "unknown"));
	json_object_set(b, "trade_type", json_object_get(vars, "trade_type"));
	json_object_set(b, "callout_fee", json_object_get(vars, "callout_fee"));
	json_object_set(b, "company_name", json_object_get(vars, "company_name"));
	json_object_set(b, "is_repeat", json_object_get(vars, "is_repeat"));
	json_object_set_new(b, "did_number", json_string(call_did(c)));
	json_object_set_new(b, "source", json_string(source));
	json_object_set_new(b, "call_uuid", json_string(call_uuid(c)));
	json_object_set_new(b, "outcome", json_string("booked"));
	return b;
}

/* Queues the booking; a result now (failed) or the poll armed. */
static void enqueue(struct agent_booking *b, struct call *c, json_t *in)
{
	struct booking_in *bk = calloc(1, sizeof(*bk));
	char why[256], err[256], key[1200];
	const char *bad;
	struct timeval tv = { 0, POLL_US };

	if (!bk) {
		refuse(b, json_pack("{s:b, s:s}", "success", 0, "error", "out of memory"));
	} else if ((bad = booking_from_json(in, bk, why, sizeof(why)))) {
		/* Told to the model, which can ask the caller again. */
		refuse(b, json_pack("{s:b, s:s}", "success", 0, "error", bad));
	} else {
		snprintf(key, sizeof(key), "%s|%s|%s", call_uuid(c), bk->postcode, bk->name);
		booking_ref_for_key(key, bk->ref, sizeof(bk->ref));
		snprintf(b->ref, sizeof(b->ref), "%s", bk->ref);
		snprintf(b->who, sizeof(b->who), "%.200s at %s", bk->name, bk->postcode);
		if (booking_enqueue(region_recq(b->w->region.base, &b->w->hdr), b->w->bell, bk,
				    &b->seq, err, sizeof(err)) < 0) {
			refuse(b, json_pack("{s:b, s:s}", "success", 0, "error", err));
		} else {
			b->deadline = mono_ns() + JOURNAL_WAIT_NS;
			b->ev = event_new(b->w->base, -1, 0, booking_poll, b);
			if (b->ev)
				event_add(b->ev, &tv);
			else
				refuse(b, json_pack("{s:b, s:s}", "success", 0, "error",
						    "out of memory"));
		}
	}
	free(bk);
}

int agent_booking_start(struct agent_booking **out, struct call *c, json_t *vars, json_t *args,
			const char *source,
			void (*done)(void *arg, json_t *result, bool booked), void *arg)
{
	struct agent_booking *b = calloc(1, sizeof(*b));

	*out = b;
	if (!b)
		return -ENOMEM;
	b->w = call_worker(c);
	b->done = done;
	b->arg = arg;
	snprintf(b->uuid, sizeof(b->uuid), "%s", call_uuid(c));
	json_t *in = booking_fields(c, vars, args, source);
	enqueue(b, c, in);
	json_decref(in);
	return 0;
}

void agent_booking_cancel(struct agent_booking *b)
{
	if (!b)
		return;
	if (b->ev)
		event_free(b->ev);
	json_decref(b->refused);
	free(b);
}

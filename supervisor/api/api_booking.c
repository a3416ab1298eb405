/*
 * api_booking.c - POST /api/voice-agent/create_booking.
 *
 * Checks and normalises what a dispatch team needs (lengths within the
 * columns, a real UK postcode written the standard way, a phone number of
 * digits and '+', a known trade), puts the booking in the api's record
 * queue for the booking-writer, and answers once the writer has it on
 * disk: with booking_id if MariaDB took it within commit_wait_ms, always
 * with booking_ref. While MariaDB is down a booking is still accepted the
 * moment it is journaled. If even the journal does not answer in time
 * (the writer is down), 503: the client retries with the same
 * idempotency key, and the two attempts make one booking.
 *
 * Idempotency: the key (header Idempotency-Key or field idempotency_key)
 * decides the booking reference, and the reference is unique in MariaDB.
 */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/booking/booking.h"
#include "../../common/conf.h"
#include "../../common/log.h"
#include "../../common/booking/rec_put.h"
#include "../../common/vg_time.h"

/*
 * Acknowledgements are watched in shared memory every half millisecond
 * while any answer waits: cheaper than a descriptor per producer, and a
 * booking is at most a few a second.
 */
#define ACK_POLL_US 500

struct api_pending {
	struct api_pending *next;
	struct api *a;
	/*
	 * Answered in every case. A client that has gone leaves libevent's
	 * request detached from its connection, not freed: the answer frees
	 * it (evhttp_send_reply on a request without a connection).
	 */
	struct evhttp_request *req;
	uint64_t seq;
	int64_t t0, journal_by, commit_by;
	char ref[17];
	char name[1024];
	char postcode[16];
};

/* Answers p if its record has got far enough (or too late); true when done. */
static bool settle(struct api_pending *p, int64_t now)
{
	struct api *a = p->a;
	enum recq_state st = recq_state(a->q, p->seq);
	int64_t id = 0;
	char msg[1200];

	if (st == RECQ_COMMITTED && recq_committed_id(a->q, p->seq, &id) < 0)
		id = 0;
	if (st == RECQ_PENDING && now < p->journal_by)
		return false;
	if (st == RECQ_JOURNALED && now < p->commit_by)
		return false;
	if (st == RECQ_PENDING || st == RECQ_LOST) {
		/* LOST: dropped with a condemned queue, so never stored either. */
		api_error(a, p->req, 503, API_EP_CREATE_BOOKING, p->t0,
			  "booking %s not stored yet; retry with the same Idempotency-Key", p->ref);
	} else if (id < 0) {
		api_error(a, p->req, 500, API_EP_CREATE_BOOKING, p->t0,
			  "booking %s was refused by the database", p->ref);
	} else if (id > 0) {
		snprintf(msg, sizeof(msg), "Booking #%lld created for %s at %s", (long long)id,
			 p->name, p->postcode);
		api_reply(a, p->req, 200, json_pack("{s:b, s:I, s:s, s:s}", "success", 1,
			  "booking_id", (json_int_t)id, "booking_ref", p->ref, "message", msg),
			  API_EP_CREATE_BOOKING, p->t0);
	} else {
		snprintf(msg, sizeof(msg), "Booking %s received for %s at %s", p->ref, p->name,
			 p->postcode);
		api_reply(a, p->req, 200, json_pack("{s:b, s:n, s:s, s:s}", "success", 1,
			  "booking_id", "booking_ref", p->ref, "message", msg),
			  API_EP_CREATE_BOOKING, p->t0);
	}
	return true;
}

void api_pending_tick(struct api *a)
{
	struct api_pending **pp = &a->pending;
	int64_t now = mono_ns();

	while (*pp) {
		struct api_pending *p = *pp;
		if (!settle(p, now)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		free(p);
	}
	if (a->pending) {
		struct timeval tv = { 0, ACK_POLL_US };
		event_add(a->ack_ev, &tv);
	}
}

void api_create_booking(struct api *a, struct evhttp_request *req, int64_t t0)
{
	char why[256], err[256];
	struct booking_in *b = calloc(1, sizeof(*b));
	struct api_pending *p = calloc(1, sizeof(*p));
	json_t *in = b && p ? api_body(a, req, API_EP_CREATE_BOOKING, t0) : NULL;
	const char *bad;
	int rc;

	if (!in) {
		if (!b || !p)
			api_error(a, req, 503, API_EP_CREATE_BOOKING, t0, "out of memory");
		goto out;
	}
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	if ((bad = booking_request(in, evhttp_find_header(h, "X-Source"),
				   evhttp_find_header(h, "Idempotency-Key"), b, why, sizeof(why)))) {
		api_error(a, req, 400, API_EP_CREATE_BOOKING, t0, "%s", bad);
		goto out;
	}
	if ((rc = booking_enqueue(a->q, a->bell, b, &p->seq, err, sizeof(err))) < 0) {
		api_error(a, req, rc == -ENOBUFS ? 503 : 400, API_EP_CREATE_BOOKING, t0, "%s", err);
		goto out;
	}
	p->a = a;
	p->req = req;
	p->t0 = t0;
	p->journal_by = t0 + a->conf->api_journal_wait_ms * NS_PER_MS;
	p->commit_by = t0 + a->conf->api_commit_wait_ms * NS_PER_MS;
	memcpy(p->ref, b->ref, sizeof(p->ref));
	memcpy(p->name, b->name, sizeof(p->name));
	memcpy(p->postcode, b->postcode, sizeof(p->postcode));
	p->next = a->pending;
	a->pending = p;
	p = NULL;
	api_pending_tick(a);
out:
	json_decref(in);
	free(b);
	free(p);
}

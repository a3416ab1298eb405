/*
 * booking.h - a booking as vagent accepts it, from the api or from the
 * local agent's create_booking tool.
 *
 * Owns: the checks a dispatch team relies on (lengths within the columns,
 * a real UK postcode written the standard way, a phone number of digits
 * and '+', a known trade and outcome) and turning a checked booking into
 * a record for the booking-writer. Both doors use exactly these rules.
 */
#ifndef VG_BOOKING_H
#define VG_BOOKING_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bell;
struct recq;

struct booking_in {
	char name[1024], phone[32], postcode[16], address[2048], problem[16384];
	char trade[16], did[32], company[1024], outcome[16], source[8], call_uuid[40];
	char ref[17];
	long long fee;
	bool repeat, has_fee, has_repeat;
};

/*
 * Reads and checks the booking fields of a JSON object into b (the
 * reference is left to the caller). NULL if fine, else why not, in words
 * fit for an HTTP client or a language model (why holds them).
 */
const char *booking_from_json(json_t *in, struct booking_in *b, char *why, size_t whylen);

/*
 * A create_booking request: the body's fields (booking_from_json), where
 * it comes from (body "source", else the X-Source header source_hdr) and
 * its reference (from the Idempotency-Key header idem_hdr, else the body's
 * "idempotency_key", else a random one). Headers may be NULL (absent).
 * NULL if fine, else why not, as booking_from_json.
 */
const char *booking_request(json_t *in, const char *source_hdr, const char *idem_hdr,
			    struct booking_in *b, char *why, size_t whylen);

/* One of the sets below? */
bool booking_source_ok(const char *s);

/* Normalises a UK postcode ("e59es" -> "E5 9ES"); false if it is not one. */
bool postcode_norm(const char *in, char *out, size_t len);

/*
 * A customer's phone number as the seed stores it: its digits, with a
 * leading '+' if the first thing written is one; anything else is
 * dropped. True if it has 7 to 15 digits (E.164); out is always a string.
 */
bool phone_norm(const char *in, char *out, size_t len);

/* The most digits a number written to the tables may have (VARCHAR(30)). */
#define PHONE_DIGITS_MAX 30

/*
 * A number as people write it (did_context's DID and caller ID): digits,
 * spaces, '+', '-', '(', ')' and '.'. Its digits go to out (len > 0), the
 * seed keeps digits only. 0 if s is written like that with at most
 * PHONE_DIGITS_MAX digits and they fit in out (none at all is fine: out
 * is ""); else -EINVAL and out is "". Whatever the answer, out is a string.
 */
int phone_digits(const char *s, char *out, size_t len);

/* Enqueues b for the booking-writer. As rec_put(). */
int booking_enqueue(struct recq *q, struct bell *bell, const struct booking_in *b,
		    uint64_t *seq, char *err, size_t errlen);

#endif

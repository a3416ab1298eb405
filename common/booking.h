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

/* One of the sets below? */
bool booking_source_ok(const char *s);

/* Normalises a UK postcode ("e59es" -> "E5 9ES"); false if it is not one. */
bool postcode_norm(const char *in, char *out, size_t len);

/* Enqueues b for the booking-writer. As rec_put(). */
int booking_enqueue(struct recq *q, struct bell *bell, const struct booking_in *b,
		    uint64_t *seq, char *err, size_t errlen);

#endif

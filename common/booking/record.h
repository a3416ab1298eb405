/*
 * record.h - the durable records producers hand to the booking-writer:
 * their fields, limits and msgpack encoding.
 *
 * Owns: the one definition of a booking and of a call's end as they travel
 * through the record queue and the journal. A record is a msgpack map of
 * named fields; each record type has a table of fields (name, type,
 * largest size in characters as the column allows, required or not), so
 * producer and writer can never disagree about a limit.
 *
 * Decoding trusts nothing: wrong types, invalid UTF-8, strings longer than
 * their column, missing required fields and unknown versions are refused
 * with a reason (the writer dead-letters such a record). Unknown keys are
 * ignored so that a newer producer can talk to an older writer.
 */
#ifndef VG_RECORD_H
#define VG_RECORD_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECORD_VERSION 1

/* The type byte a record carries through the queue and the journal. */
enum rec_type {
	REC_BOOKING = 1,
	REC_CALL_END = 2,
};

enum rec_ftype { RF_STR, RF_INT, RF_BOOL, RF_JSON };

struct rec_fdef {
	const char *name;
	enum rec_ftype type;
	uint32_t max;		/* characters for strings, bytes for JSON text */
	bool required;
};

/* A field's value: strings point into the caller's or the decoder's memory. */
struct rec_val {
	bool present;
	const char *s;
	uint32_t len;		/* bytes */
	int64_t i;		/* RF_INT, RF_BOOL */
};

enum booking_field {
	BK_REF, BK_SOURCE, BK_CALL_UUID, BK_CREATED_MS,
	BK_CUSTOMER_NAME, BK_CUSTOMER_PHONE, BK_POSTCODE, BK_ADDRESS, BK_PROBLEM,
	BK_TRADE_TYPE, BK_CALLOUT_FEE, BK_DID_NUMBER, BK_COMPANY_NAME, BK_IS_REPEAT,
	BK_OUTCOME,
	BK_NFIELDS
};

enum call_end_field {
	CE_UUID, CE_DID, CE_CLI, CE_ENGINE, CE_START_MS, CE_END_MS, CE_OUTCOME,
	CE_TURNS, CE_BARGE_INS, CE_LATENCY, CE_TRANSCRIPT, CE_RECORDING,
	CE_NFIELDS
};

#define REC_MAX_FIELDS 16

/* The calls row's recording_path column (sql/migrations/004_recording.sql). */
#define REC_RECORDING_MAX 1024

/* The field table of a record type, or NULL. */
const struct rec_fdef *record_fields(uint8_t type, size_t *nfields);

/*
 * Encodes the present fields of vals (nfields of them, as record_fields
 * says for type) into sbuf, which the caller owns. 0 or -EINVAL with err
 * naming the field, when a value breaks the table (the producer's bug or
 * a caller's input it should have checked).
 */
int record_encode(uint8_t type, const struct rec_val *vals, msgpack_sbuffer *sbuf,
		  char *err, size_t errlen);

/*
 * Decodes a record's payload. vals (REC_MAX_FIELDS) point into *up, which
 * the caller initialises with msgpack_unpacked_init and destroys after use.
 * 0, or -EPROTO with err saying why.
 */
int record_decode(uint8_t type, uint8_t version, const void *buf, size_t len,
		  msgpack_unpacked *up, struct rec_val *vals, char *err, size_t errlen);

/* Convenience for producers: a string field from a C string. */
static inline struct rec_val rec_str(const char *s)
{
	struct rec_val v = { .present = s != NULL, .s = s, .len = 0 };
	if (s)
		while (s[v.len])
			v.len++;
	return v;
}

static inline struct rec_val rec_int(int64_t i)
{
	struct rec_val v = { .present = true, .i = i };
	return v;
}

/* Characters in valid UTF-8, or -EILSEQ if s is not valid UTF-8 (or holds NUL). */
long utf8_chars(const char *s, size_t len);

#endif

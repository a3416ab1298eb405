/*
 * booking.c - checking and enqueueing bookings. See booking.h.
 */
#include "booking.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rec_put.h"
#include "../vg_time.h"

static const char *const trades[] = { "plumbing", "electrical", "drainage", "locksmith", NULL };
static const char *const outcomes[] = { "booked", "declined", "callback", "cancelled", NULL };
static const char *const sources[] = { "api", "cloud", "local", NULL };

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* Trimmed text of at most max characters, no control characters. */
static int text(json_t *o, const char *key, bool required, size_t max, char *out,
		size_t outlen, char *why, size_t whylen)
{
	json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (!v || json_is_null(v)) {
		if (required)
			snprintf(why, whylen, "Missing required field: %s", key);
		return required ? -EINVAL : 0;
	}
	if (!json_is_string(v)) {
		snprintf(why, whylen, "%s must be a string", key);
		return -EINVAL;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	long chars = utf8_chars(s, len);
	for (size_t i = 0; i < len && chars >= 0; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\n' && s[i] != '\t')
			chars = -1;
	if (chars < 0) {
		snprintf(why, whylen, "%s holds control characters", key);
		return -EINVAL;
	}
	if ((size_t)chars > max || len >= outlen) {
		snprintf(why, whylen, "%s is longer than %zu characters", key, max);
		return -EINVAL;
	}
	if (required && !len) {
		snprintf(why, whylen, "Missing required field: %s", key);
		return -EINVAL;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/*
 * UK postcode: outward code (A9, A99, AA9, AA99, A9A, AA9A) then inward
 * code (9AA); case and spaces as the caller likes, written back upper case
 * with one space. GIR 0AA is real too. False, and out "", if out is too
 * small for it.
 */
bool postcode_norm(const char *in, char *out, size_t len)
{
	char c[8];
	size_t n = 0;

	for (; *in; in++) {
		if (*in == ' ')
			continue;
		if (n == sizeof(c) - 1 || !isalnum((unsigned char)*in))
			return false;
		c[n++] = (char)toupper((unsigned char)*in);
	}
	c[n] = '\0';
	if (len)
		out[0] = '\0';
	if (len < n + 2)	/* the space and the terminator */
		return false;
	if (!strcmp(c, "GIR0AA")) {
		snprintf(out, len, "GIR 0AA");
		return true;
	}
	if (n < 5 || n > 7 || !isdigit((unsigned char)c[n - 3]) ||
	    !isalpha((unsigned char)c[n - 2]) || !isalpha((unsigned char)c[n - 1]))
		return false;
	size_t o = n - 3;	/* outward code: letter, letter?, digit, then digit or letter */
	if (!isalpha((unsigned char)c[0]))
		return false;
	size_t i = isalpha((unsigned char)c[1]) ? 2 : 1;
	if (i >= o || !isdigit((unsigned char)c[i]))
		return false;
	if (o - i > 2 || (o - i == 2 && !isalnum((unsigned char)c[i + 1])))
		return false;
	snprintf(out, len, "%.*s %s", (int)o, c, c + o);
	return true;
}

bool phone_norm(const char *in, char *out, size_t len)
{
	size_t n = 0, digits = 0;

	if (!len)
		return false;
	for (const char *p = in; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		if (n + 1 >= len)
			continue;	/* counted, not kept: too long to be a number */
		if (*p >= '0' && *p <= '9')
			out[n++] = *p;
		else if (*p == '+' && n == 0)
			out[n++] = '+';
	}
	out[n] = '\0';
	return digits >= 7 && digits <= 15 && digits + (out[0] == '+') == n;
}

int phone_digits(const char *s, char *out, size_t len)
{
	size_t n = 0;

	if (!len)
		return -EINVAL;
	out[0] = '\0';
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n >= PHONE_DIGITS_MAX || n + 1 >= len) {
				out[0] = '\0';
				return -EINVAL;
			}
			out[n++] = *s;
		} else if (!strchr(" +-().", *s)) {
			out[0] = '\0';
			return -EINVAL;
		}
	}
	out[n] = '\0';
	return 0;
}

static const char *numbers(json_t *in, struct booking_in *b)
{
	json_t *fee = json_object_get(in, "callout_fee"), *rep = json_object_get(in, "is_repeat");

	if (fee && !json_is_null(fee)) {
		if (!json_is_number(fee) || json_number_value(fee) < 0 ||
		    json_number_value(fee) > 100000)
			return "callout_fee must be a number from 0 to 100000";
		b->fee = (long long)(json_number_value(fee) + 0.5);
		b->has_fee = true;
	}
	if (rep && !json_is_null(rep)) {
		if (!json_is_boolean(rep))
			return "is_repeat must be true or false";
		b->repeat = json_is_true(rep);
		b->has_repeat = true;
	}
	return NULL;
}

/* Field checks after the texts are in. */
static const char *normalise(struct booking_in *b)
{
	char tmp[sizeof(b->phone)];

	if (!phone_norm(b->phone, tmp, sizeof(tmp)))
		return "customer_phone must hold 7 to 15 digits";
	memcpy(b->phone, tmp, sizeof(tmp));
	if (!postcode_norm(b->postcode, tmp, sizeof(b->postcode)))
		return "postcode is not a valid UK postcode";
	memcpy(b->postcode, tmp, sizeof(b->postcode));
	if (!one_of(b->trade, trades))
		return "trade_type must be plumbing, electrical, drainage or locksmith";
	if (b->outcome[0] && !one_of(b->outcome, outcomes))
		return "outcome must be booked, declined, callback or cancelled";
	if (b->source[0] && !one_of(b->source, sources))
		return "source must be api, cloud or local";
	size_t n = 0;	/* the seed keeps a DID's digits only */
	for (const char *p = b->did; *p; p++)
		if (*p >= '0' && *p <= '9')
			b->did[n++] = *p;
	b->did[n] = '\0';
	return NULL;
}

bool booking_source_ok(const char *s)
{
	return one_of(s, sources);
}

const char *booking_from_json(json_t *in, struct booking_in *b, char *why, size_t whylen)
{
	const struct { const char *key; bool required; size_t max; char *out; size_t len; } f[] = {
		{ "customer_name", true, 255, b->name, sizeof(b->name) },
		{ "customer_phone", true, 30, b->phone, sizeof(b->phone) },
		{ "postcode", true, 10, b->postcode, sizeof(b->postcode) },
		{ "address", true, 500, b->address, sizeof(b->address) },
		{ "problem_description", true, 4000, b->problem, sizeof(b->problem) },
		{ "trade_type", true, 20, b->trade, sizeof(b->trade) },
		{ "did_number", false, 30, b->did, sizeof(b->did) },
		{ "company_name", false, 255, b->company, sizeof(b->company) },
		{ "outcome", false, 30, b->outcome, sizeof(b->outcome) },
		{ "source", false, 5, b->source, sizeof(b->source) },
		{ "call_uuid", false, 36, b->call_uuid, sizeof(b->call_uuid) },
	};
	const char *bad;

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (text(in, f[i].key, f[i].required, f[i].max, f[i].out, f[i].len, why, whylen) < 0)
			return why;
	if ((bad = numbers(in, b)) || (bad = normalise(b)))
		return bad;
	return NULL;
}

const char *booking_request(json_t *in, const char *source_hdr, const char *idem_hdr,
			    struct booking_in *b, char *why, size_t whylen)
{
	const char *bad, *key = NULL;

	if ((bad = booking_from_json(in, b, why, whylen)))
		return bad;
	if (!b->source[0] && source_hdr) {
		if (!booking_source_ok(source_hdr))
			return "X-Source must be api, cloud or local";
		snprintf(b->source, sizeof(b->source), "%s", source_hdr);
	}
	json_t *k = json_object_get(in, "idempotency_key");
	if (k && !json_is_null(k)) {
		if (!json_is_string(k) || json_string_length(k) > 128)
			return "idempotency_key must be a string of up to 128 characters";
		if (json_string_length(k))
			key = json_string_value(k);	/* "" is no key, as absent */
	}
	if (idem_hdr)
		key = idem_hdr;	/* the header wins over the body */
	if (key && (!key[0] || strlen(key) > 128))
		return "Idempotency-Key must be 1 to 128 characters";
	if (key)
		booking_ref_for_key(key, b->ref, sizeof(b->ref));
	else if (booking_ref_new(b->ref, sizeof(b->ref)) < 0)
		return "no randomness for a booking reference";
	return NULL;
}

int booking_enqueue(struct recq *q, struct bell *bell, const struct booking_in *b,
		    uint64_t *seq, char *err, size_t errlen)
{
	struct rec_val v[REC_MAX_FIELDS] = { 0 };

	v[BK_REF] = rec_str(b->ref);
	v[BK_SOURCE] = rec_str(b->source[0] ? b->source : "api");
	v[BK_CALL_UUID] = rec_str(b->call_uuid[0] ? b->call_uuid : NULL);
	v[BK_CREATED_MS] = rec_int(real_ns() / NS_PER_MS);
	v[BK_CUSTOMER_NAME] = rec_str(b->name);
	v[BK_CUSTOMER_PHONE] = rec_str(b->phone);
	v[BK_POSTCODE] = rec_str(b->postcode);
	v[BK_ADDRESS] = rec_str(b->address);
	v[BK_PROBLEM] = rec_str(b->problem);
	v[BK_TRADE_TYPE] = rec_str(b->trade);
	if (b->has_fee)
		v[BK_CALLOUT_FEE] = rec_int(b->fee);
	v[BK_DID_NUMBER] = rec_str(b->did[0] ? b->did : NULL);
	v[BK_COMPANY_NAME] = rec_str(b->company[0] ? b->company : NULL);
	if (b->has_repeat) {
		v[BK_IS_REPEAT] = rec_int(b->repeat);
		v[BK_IS_REPEAT].present = true;
	}
	v[BK_OUTCOME] = rec_str(b->outcome[0] ? b->outcome : NULL);
	return rec_put(q, bell, REC_BOOKING, v, seq, err, errlen);
}


/*
 * api_req.h - the api's request bodies, read without any HTTP around them.
 *
 * Owns: turning the bytes a client sent into a JSON object, and the
 * did_context body into the DID and caller ID the handler looks up. Pure
 * functions (no I/O, no libevent, no database), so the fuzz targets and
 * unit tests run exactly the code the api runs. create_booking's body is
 * common/booking.h's booking_request(), shared with the local agent.
 *
 * Never trusts the body: any byte sequence gives an object or NULL, a
 * request or a reason fit for the client.
 */
#ifndef VG_API_REQ_H
#define VG_API_REQ_H

#include <jansson.h>
#include <stddef.h>

#include "../../common/booking/booking.h"

/*
 * The body as a JSON object; NULL if it is not one. jansson refuses
 * invalid UTF-8 and NUL bytes; duplicate keys are refused as ambiguous.
 */
json_t *api_json_object(const void *buf, size_t len);

struct didctx_req {
	char did[PHONE_DIGITS_MAX + 1];	/* digits only, at least 3 */
	char cli[PHONE_DIGITS_MAX + 1];	/* digits only; "" when there is none */
};

/*
 * The did_context body {"did_number": .., "caller_id": ..} into r. NULL if
 * fine, else the reason for a 400. A caller ID that is not written like a
 * phone number ("anonymous", "unknown", a string of 31 digits) is no caller
 * ID: the call goes on without one, as with a withheld number. A DID that
 * is not one is the client's mistake.
 */
const char *didctx_parse(json_t *in, struct didctx_req *r);

#endif

/*
 * ctl_http.h - one blocking HTTP request for vagentctl's REST clients
 * (outbound calls: Twilio's Calls, ElevenLabs' outbound-call).
 *
 * Owns: libcurl's easy handle and its settings that every request of a
 * command run by hand wants: a connect and a total timeout, http/https
 * only, $SSL_CERT_FILE passed on (libcurl does not read it itself), the
 * answer kept in memory up to a ceiling, basic auth when asked.
 * Must never: print a header, a body or a password (the callers' keys go
 * through here); the caller words every error for its provider.
 * Fails: -1 with the transport error in err (the URL's host, never keys).
 */
#ifndef VG_CTL_HTTP_H
#define VG_CTL_HTTP_H

#include <stddef.h>

#include "../../common/buf.h"

struct ctl_http_req {
	const char *url;
	const char *content_type;	/* of body */
	const char *body;		/* POSTed */
	const char *header;		/* one extra "Name: value" header, or NULL */
	const char *user, *password;	/* basic auth, or NULL */
};

/*
 * POSTs r; *status gets the HTTP status and answer the body (reset first).
 * 0, or -1 with err (errlen bytes) saying why no answer came.
 */
int ctl_http_post(const struct ctl_http_req *r, long *status, struct buf *answer,
		  char *err, size_t errlen);

#endif

/*
 * tls_client.h - the TLS client context every worker's websockets share.
 *
 * Owns: one OpenSSL client context (TLS 1.2 or later, peers verified
 * against the system's CA store) that the supervisor builds once, before it
 * forks a worker. Each worker's libwebsockets uses it instead of building
 * its own: parsing the CA bundle cost every worker about 1.2 MB of private
 * heap, where the supervisor's copy is shared by all of them copy-on-write
 * (only the pages a handshake writes, a few kB, become a worker's own).
 *
 * Must never: be used by two threads of the supervisor (it has none that
 * speak TLS), or be rebuilt under a running worker: a new CA bundle is
 * read at the next start. Fails with 0 or -errno and one line in err.
 */
#ifndef VG_TLS_CLIENT_H
#define VG_TLS_CLIENT_H

#include <stddef.h>

struct ssl_ctx_st;

int tls_client_new(struct ssl_ctx_st **out, char *err, size_t errlen);

/* NULL is fine. */
void tls_client_free(struct ssl_ctx_st *ctx);

#endif

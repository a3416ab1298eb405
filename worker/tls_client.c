/*
 * tls_client.c - the shared TLS client context (see tls_client.h).
 *
 * The CA store is loaded now, not on the first handshake as OpenSSL would
 * by default: loaded lazily, each worker would parse it into its own heap
 * and the sharing would be lost.
 */
#include "tls_client.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

static int failed(SSL_CTX *ctx, const char *what, char *err, size_t errlen)
{
	char why[256];

	ERR_error_string_n(ERR_get_error(), why, sizeof(why));
	snprintf(err, errlen, "TLS client context: %s: %s", what, why);
	SSL_CTX_free(ctx);
	return -EIO;
}

int tls_client_new(SSL_CTX **out, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	/* Where OpenSSL itself would look: $SSL_CERT_FILE, else the system bundle. */
	const char *file = getenv(X509_get_default_cert_file_env());

	if (!file || !*file)
		file = X509_get_default_cert_file();

	*out = NULL;
	if (!OPENSSL_init_ssl(0, NULL) || !(ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(err, errlen, "TLS client context: out of memory");
		return -ENOMEM;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION))
		return failed(ctx, "TLS 1.2", err, errlen);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* The bundle itself, parsed now (a directory lookup would read lazily). */
	if (!X509_STORE_load_file(SSL_CTX_get_cert_store(ctx), file))
		return failed(ctx, file, err, errlen);
	*out = ctx;
	return 0;
}

void tls_client_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/*
 * tls_client.c - the shared TLS client context (see tls_client.h).
 *
 * The CA store is loaded now, not on the first handshake as OpenSSL would
 * by default: loaded lazily, each worker would parse it into its own heap
 * and the sharing would be lost.
 *
 * The bundle is read one certificate at a time, not with
 * X509_STORE_load_file: that keeps an X509_INFO (an 80-byte chunk) per
 * certificate until the end and then frees them all, leaving ~140 small
 * holes spread over 900 kB of the supervisor's heap. Every worker's small
 * allocations then land in those holes and copy-on-write a whole page each:
 * measured 732 kB of private [heap] in a busy local-engine worker, 208 kB
 * with a one-certificate bundle. Read one by one, each certificate's
 * temporaries are freed before the next is parsed and refill the same spot.
 */
#include "tls_client.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
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

/* PEM certificates of file into store; 0 or -1 (nothing loaded, or an error). */
static int load_bundle(X509_STORE *store, const char *file)
{
	BIO *in = BIO_new_file(file, "r");
	X509 *x;
	int n = 0, ok = 1;

	if (!in)
		return -1;
	while (ok && (x = PEM_read_bio_X509_AUX(in, NULL, NULL, NULL))) {
		ok = X509_STORE_add_cert(store, x);	/* the store takes its own reference */
		X509_free(x);
		n++;
	}
	BIO_free(in);
	/* The loop ends on "no start line" at the end of the file: not an error. */
	if (!ok || !n || ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)
		return -1;
	ERR_clear_error();
	return 0;
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
	if (load_bundle(SSL_CTX_get_cert_store(ctx), file) < 0)
		return failed(ctx, file, err, errlen);
	*out = ctx;
	return 0;
}

void tls_client_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

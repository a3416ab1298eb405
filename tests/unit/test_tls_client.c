/*
 * test_tls_client.c - unit tests for worker/tls_client.h.
 *
 * Protects: the context every worker shares verifies peers, speaks TLS 1.2
 * or later, has its CA store loaded before any worker is forked (loaded
 * lazily, each worker would parse it into its own heap), and a missing CA
 * file is a clear error naming the file, not a context that trusts
 * nothing in silence.
 */
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../worker/tls_client.h"

static void test_verifies_with_the_store_loaded(void **state)
{
	(void)state;
	SSL_CTX *ctx;
	char err[256] = "";

	unsetenv("SSL_CERT_FILE");
	assert_int_equal(tls_client_new(&ctx, err, sizeof(err)), 0);
	assert_int_equal(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_PEER);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	assert_true(sk_X509_OBJECT_num(objs) > 10);	/* Debian's bundle: over a hundred */
	tls_client_free(ctx);
	tls_client_free(NULL);
}

static void test_a_missing_ca_file_is_named(void **state)
{
	(void)state;
	SSL_CTX *ctx = (SSL_CTX *)1;
	char err[256] = "";

	setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
	assert_true(tls_client_new(&ctx, err, sizeof(err)) < 0);
	assert_null(ctx);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	unsetenv("SSL_CERT_FILE");
}

/* Every certificate of the bundle is in the store, not just the first few. */
static void test_every_certificate_is_loaded(void **state)
{
	(void)state;
	SSL_CTX *ctx;
	char err[256] = "", line[256];
	int n = 0;
	FILE *f = fopen(X509_get_default_cert_file(), "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
	fclose(f);
	unsetenv("SSL_CERT_FILE");
	assert_int_equal(tls_client_new(&ctx, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))),
			 n);
	tls_client_free(ctx);
}

/* A file without a certificate (an empty or wrong file) is refused. */
static void test_a_bundle_without_certificates_is_refused(void **state)
{
	(void)state;
	SSL_CTX *ctx = (SSL_CTX *)1;
	char err[256] = "";
	char path[] = "/tmp/vagent-ca-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "not a certificate\n", 18), 18);
	close(fd);
	setenv("SSL_CERT_FILE", path, 1);
	assert_true(tls_client_new(&ctx, err, sizeof(err)) < 0);
	assert_null(ctx);
	assert_non_null(strstr(err, path));
	unsetenv("SSL_CERT_FILE");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verifies_with_the_store_loaded),
		cmocka_unit_test(test_a_missing_ca_file_is_named),
		cmocka_unit_test(test_every_certificate_is_loaded),
		cmocka_unit_test(test_a_bundle_without_certificates_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

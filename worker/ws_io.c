/*
 * ws_io.c - a websocket client's socket and TLS session. See ws_io.h.
 *
 * The certificate checks are the ones libwebsockets made before (4.1,
 * lws_ssl_client_bio_create): the chain against the context's store
 * (SSL_VERIFY_PEER, set by tls_client.c), and the host name against the
 * certificate with no partial wildcards; SNI carries the name. A numeric
 * host is checked as an address and sends no SNI (RFC 6066 forbids it).
 */
#include "ws_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ws_io_connect(struct ws_io *io, const char *ip, int port, char *why, size_t whylen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		len = sizeof(*in6);
	} else {
		snprintf(why, whylen, "cannot connect: bad address %.64s", ip);
		return -EINVAL;
	}
	io->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd < 0) {
		int e = errno;
		snprintf(why, whylen, "cannot connect: socket: %s", strerror(e));
		return -e;
	}
	/* Small messages go at once: a 20 ms frame waits for no ACK. */
	setsockopt(io->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(io->fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
		int e = errno;
		snprintf(why, whylen, "cannot connect to %.64s port %d: %s", ip, port, strerror(e));
		return -e;
	}
	return 0;
}

int ws_io_connected(struct ws_io *io, char *why, size_t whylen)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return -EAGAIN;
	if (err) {
		snprintf(why, whylen, "cannot connect: %s", strerror(err));
		return -err;
	}
	return 0;
}

/* OpenSSL's words for what failed, the certificate's verdict first. */
static void tls_why(struct ws_io *io, const char *what, char *why, size_t whylen)
{
	long v = SSL_get_verify_result(io->ssl);
	unsigned long e = ERR_peek_last_error();
	char es[200] = "connection lost";

	if (e)
		ERR_error_string_n(e, es, sizeof(es));
	if (v != X509_V_OK)
		snprintf(why, whylen, "SSL %s: certificate verify failed: %s", what,
			 X509_verify_cert_error_string(v));
	else
		snprintf(why, whylen, "SSL %s: %s", what, es);
	ERR_clear_error();
}

int ws_io_tls_start(struct ws_io *io, SSL_CTX *ctx, const char *host, char *why,
		    size_t whylen)
{
	unsigned char num[sizeof(struct in6_addr)];
	bool numeric = inet_pton(AF_INET, host, num) == 1 || inet_pton(AF_INET6, host, num) == 1;

	if (!ctx) {
		snprintf(why, whylen, "SSL: no TLS client context");
		return -EINVAL;
	}
	ERR_clear_error();
	if (!(io->ssl = SSL_new(ctx))) {
		tls_why(io, "setup", why, whylen);
		return -ENOMEM;
	}
	/* The output buffer may move between a write and its retry (ws.c). */
	SSL_set_mode(io->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* A peer that drops the TCP connection without close_notify has closed. */
	SSL_set_options(io->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_hostflags(io->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!SSL_set_fd(io->ssl, io->fd) ||
	    (numeric ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(io->ssl), host) :
		       !SSL_set1_host(io->ssl, host) || !SSL_set_tlsext_host_name(io->ssl, host))) {
		tls_why(io, "setup", why, whylen);
		return -ENOMEM;
	}
	SSL_set_verify(io->ssl, SSL_VERIFY_PEER, NULL);	/* whatever the context says */
	SSL_set_connect_state(io->ssl);
	return 0;
}

/* SSL_get_error's verdict on rc: -EAGAIN with *want, or -EIO with why. */
static int tls_error(struct ws_io *io, int rc, const char *what, int *want, char *why,
		     size_t whylen)
{
	switch (SSL_get_error(io->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*want = WS_IO_WANT_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = WS_IO_WANT_WRITE;
		return -EAGAIN;
	case SSL_ERROR_SYSCALL:
		if (!ERR_peek_last_error()) {
			snprintf(why, whylen, "SSL %s: %s", what, errno ? strerror(errno) :
				 "connection lost");
			SSL_set_quiet_shutdown(io->ssl, 1);	/* nothing more goes on it */
			return -EIO;
		}
		/* fall through */
	default:
		tls_why(io, what, why, whylen);
		SSL_set_quiet_shutdown(io->ssl, 1);
		return -EIO;
	}
}

int ws_io_tls_step(struct ws_io *io, int *want, char *why, size_t whylen)
{
	int rc;

	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_connect(io->ssl)) == 1)
		return 0;
	return tls_error(io, rc, "handshake failed", want, why, whylen);
}

/*
 * A plain socket's recv or send result: bytes, -EAGAIN (*want: again),
 * or -errno. The socket never blocks, so no EINTR comes to retry.
 */
static ssize_t plain(ssize_t r, int again, const char *what, int *want, char *why, size_t whylen)
{
	int e = errno;

	if (r >= 0)
		return r;
	if (e == EAGAIN || e == EWOULDBLOCK) {
		*want = again;
		return -EAGAIN;
	}
	snprintf(why, whylen, "%s: %s", what, strerror(e));
	return -e;
}

ssize_t ws_io_read(struct ws_io *io, void *p, size_t n, bool *more, int *want, char *why,
		   size_t whylen)
{
	*more = false;
	if (io->ssl) {
		size_t got = 0;
		ERR_clear_error();
		errno = 0;
		int rc = SSL_read_ex(io->ssl, p, n, &got);
		if (rc == 1) {
			*more = SSL_has_pending(io->ssl);
			return (ssize_t)got;
		}
		if (SSL_get_error(io->ssl, rc) == SSL_ERROR_ZERO_RETURN)
			return 0;
		return tls_error(io, rc, "read", want, why, whylen);
	}
	return plain(recv(io->fd, p, n, 0), WS_IO_WANT_READ, "read", want, why, whylen);
}

ssize_t ws_io_write(struct ws_io *io, const void *p, size_t n, int *want, char *why,
		    size_t whylen)
{
	if (io->ssl) {
		size_t put = 0;
		ERR_clear_error();
		errno = 0;
		int rc = SSL_write_ex(io->ssl, p, n, &put);
		if (rc == 1)
			return (ssize_t)put;
		return tls_error(io, rc, "write", want, why, whylen);
	}
	return plain(send(io->fd, p, n, MSG_NOSIGNAL), WS_IO_WANT_WRITE, "write", want, why,
		     whylen);
}

void ws_io_close(struct ws_io *io)
{
	if (!io)
		return;
	if (io->ssl) {
		ERR_clear_error();
		if (SSL_is_init_finished(io->ssl) && !SSL_get_quiet_shutdown(io->ssl))
			SSL_shutdown(io->ssl);	/* one try: close_notify if it goes now */
		ERR_clear_error();
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

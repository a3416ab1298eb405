/*
 * ws_io.h - one websocket client's socket: TCP, and TLS over it for wss.
 *
 * Owns: the non-blocking socket and its OpenSSL session. A connect that
 * returns at once, the TLS handshake in steps (SNI and the certificate's
 * name checked against the host, the chain against the worker's shared
 * CA store, tls_client.h), then reads and writes that never block and
 * that say which readiness they wait for. One syscall per read or write
 * that moves bytes: nothing of its own in between (see ws.c for why).
 *
 * Must never: block, raise SIGPIPE on a plain socket, or let a certificate
 * that does not verify, or names another host, through. Fails with
 * -errno; a failure's words (OpenSSL's included, "SSL" in them for a TLS
 * one) go into the caller's why.
 */
#ifndef VG_WS_IO_H
#define VG_WS_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_ctx_st;
struct ssl_st;

struct ws_io {
	int fd;			/* -1: none */
	struct ssl_st *ssl;	/* NULL: plain TCP */
};

/* What a step that returned -EAGAIN waits for. */
enum { WS_IO_WANT_READ = 1, WS_IO_WANT_WRITE = 2 };

static inline void ws_io_init(struct ws_io *io)
{
	io->fd = -1;
	io->ssl = NULL;
}

/* Starts connecting to ip (numeric, v4 or v6) and port. 0 or -errno. */
int ws_io_connect(struct ws_io *io, const char *ip, int port, char *why, size_t whylen);

/* After the socket turned writable: 0 connected, -EAGAIN not yet, or -errno. */
int ws_io_connected(struct ws_io *io, char *why, size_t whylen);

/* Starts TLS on the connected socket for host (SNI, name check). 0 or -errno. */
int ws_io_tls_start(struct ws_io *io, struct ssl_ctx_st *ctx, const char *host,
		    char *why, size_t whylen);

/* One step of the TLS handshake: 0 done, -EAGAIN (*want says for what), -EIO. */
int ws_io_tls_step(struct ws_io *io, int *want, char *why, size_t whylen);

/*
 * Reads up to n bytes: > 0, 0 at the peer's end, -EAGAIN (*want), or
 * -errno (why says). *more: bytes are buffered inside TLS already, read
 * again before waiting.
 */
ssize_t ws_io_read(struct ws_io *io, void *p, size_t n, bool *more, int *want, char *why,
		   size_t whylen);

/*
 * Writes up to n bytes: how many went, -EAGAIN (*want) or -errno. After
 * -EAGAIN the next call must offer at least the same bytes again (TLS),
 * from wherever they have moved to.
 */
ssize_t ws_io_write(struct ws_io *io, const void *p, size_t n, int *want, char *why,
		    size_t whylen);

/* Closes the socket (a TLS close_notify first if it goes at once); NULL-safe. */
void ws_io_close(struct ws_io *io);

#endif

/*
 * tts_ws.h - one TTS provider's websocket: open on demand, reconnect on
 * the next reply, give up on a permanent refusal, free once the socket is
 * gone.
 *
 * Owns: the plumbing every websocket TTS of tts.h shares, so a provider
 * file (tts_cartesia.c, tts_elevenlabs.c) keeps only its protocol: what to
 * send, what a message means, what a lost socket takes with it. Here: the
 * connection (opened at start for the greeting, then by the first send
 * after a loss), the handshake headers (the API key among them, wiped at
 * stop), the one ws_handlers table, the playout's attachment (its wake
 * runs playout_push in the loop's next pass), the call's context-id tag,
 * the buffer a message's audio is decoded into, and the verdict on a
 * close: on_error(fatal) when asking again cannot help, else
 * on_error(non-fatal) and the next send reconnects.
 *
 * Why the provider's struct is freed here (proto->release): a socket's
 * hooks use it until that socket's on_gone (ws.h), which may come after
 * stop(); so it goes when stop was called and the last socket is gone.
 *
 * Must never: call back from tts_ws_start, tts_ws_send or tts_ws_drop
 * (tts.h: start() never calls back); call anything after on_error(fatal)
 * but on_gone's release. Fails with 0 or a negative errno.
 */
#ifndef VG_TTS_WS_H
#define VG_TTS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"

struct playout;
struct tts_events;
struct ws_conn;
struct ws_loop;

#define TTS_WS_HEADERS 2	/* handshake headers a provider may set */

/* A socket that ended by itself: what tts_ws knows, what the provider adds. */
struct tts_ws_end {
	int code, http_status;	/* of its close frame / of a refused upgrade */
	const char *reason;
	bool permanent;		/* in: the HTTP status's verdict; the provider may set it */
	bool idle;		/* the provider: nothing was lost; reopen quietly */
	char detail[200];	/* the provider's own words for it (its last error), or "" */
};

/* A provider's protocol; self is the pointer given to tts_ws_init. */
struct tts_ws_proto {
	const char *name;	/* "Cartesia": log lines and on_error text */
	/*
	 * A text message, where it arrives: hand audio to the playout
	 * (tts_ws_pcm, playout_audio). true: pass it on to message().
	 */
	bool (*arrived)(void *self, const char *data, size_t len);
	/* A text message passed on; never after on_error(fatal). */
	void (*message)(void *self, const char *data, size_t len);
	/* The socket ended by itself: forget what lived on it, fill e. May be NULL. */
	void (*closed)(void *self, struct tts_ws_end *e);
	/* Frees self (and with it the struct tts_ws inside). */
	void (*release)(void *self);
};

/*
 * The fields are the provider's to read, tts_ws.c's alone to write.
 */
struct tts_ws {
	const struct tts_ws_proto *proto;
	void *self;
	struct ws_loop *loop;
	struct ws_conn *conn;		/* NULL: none; the next send opens one */
	struct playout *po;
	int rate;			/* the playout's (the call's) */
	const struct tts_events *ev;
	void *arg;			/* ev's */
	char uuid[40];
	char tag[16];			/* the call's prefix of context ids (tts_wire.h) */
	const char *url;
	char header[TTS_WS_HEADERS][320];
	size_t headers;
	bool stopping;			/* stop was called: free when no socket is left */
	bool dead;			/* on_error(fatal) was called: nothing follows */
	int conns;			/* sockets not yet gone */
	struct buf pcm;			/* a message's decoded audio, reused */
};

/*
 * Fills w (inside the provider's freshly allocated self) and attaches the
 * playout, whose audio is at rate. Cannot fail; from here on tts_ws_stop() is the one way to free
 * self, also when the provider's start() fails.
 */
void tts_ws_init(struct tts_ws *w, const struct tts_ws_proto *p, void *self,
		 struct ws_loop *loop, struct playout *po, int rate, const char *uuid,
		 const struct tts_events *ev, void *arg);

/* Adds the handshake header "name: value". 0, -E2BIG or -ENAMETOOLONG. */
int tts_ws_header(struct tts_ws *w, const char *name, const char *value);

/* Opens url (kept: it must live as long as w) now: the greeting needs it. */
int tts_ws_start(struct tts_ws *w, const char *url);

/*
 * Sends msg (malloc'd text, or NULL when making it ran out of memory; freed
 * here), first opening a socket if none is. 0, -ENOMEM, -ENOTCONN after
 * on_error(fatal), or ws_open's error.
 */
int tts_ws_send(struct tts_ws *w, char *msg);

/* Closes the socket on purpose (its audio still to come is lost); the next
 * send opens a new one. */
void tts_ws_drop(struct tts_ws *w);

/* The reused buffer for a message's decoded audio: cap bytes, or NULL. */
uint8_t *tts_ws_pcm(struct tts_ws *w, size_t cap);

/* Wipes the headers, closes, and frees self now or once the socket is
 * gone. NULL is fine. */
void tts_ws_stop(struct tts_ws *w);

#endif

/*
 * ws_peer.h - one open websocket's message layer, either side.
 *
 * Owns: frames in -> whole messages out (pings answered, fragments joined,
 * over WS_PEER_MSG_MAX refused with 1009), our frames queued out, the
 * close handshake (one close frame from us, nothing after it; the peer's
 * answered). Never touches a socket, an event or a hook: it reads the
 * owner's in, appends to its out and returns when to flush and end, for
 * each side ends and frees its own way (ws.c sweeps, ws_server.c frees on
 * leaving its last event). The sides differ in plain sight: a client
 * (ws.c) masks what it sends and refuses masked frames; a server (keys
 * NULL) sends unmasked and refuses unmasked frames with 1002.
 */
#ifndef VG_WS_PEER_H
#define VG_WS_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/buf.h"
#include "ws_frame.h"

#define WS_PEER_MSG_MAX (4u << 20)	/* far past any provider's or Twilio's message */

struct ws_peer {
	struct buf *in;		/* the owner's: bytes read, frames taken from its front */
	struct buf *out;	/* the owner's: bytes to write, ours appended */
	struct ws_msg msg;	/* the message being gathered */
	int (*keys)(void *arg, uint8_t *key, size_t n);	/* a client's mask keys; NULL: a server */
	void *keys_arg;
	bool closing;		/* our close frame is queued */
	int code;		/* after the end: the close code (0: none) */
	char why[124];		/* and its words */
};

/* Borrows in and out; allocates nothing yet. */
void ws_peer_init(struct ws_peer *p, struct buf *in, struct buf *out,
		  int (*keys)(void *arg, uint8_t *key, size_t n), void *keys_arg);
void ws_peer_free(struct ws_peer *p);

/* Appends one frame (masked for a client). 0, -EIO (no key), -EMSGSIZE, -ENOMEM. */
int ws_peer_send(struct ws_peer *p, int opcode, const void *data, size_t len);

/* Appends our close frame with code (0: an empty one), once; only once open. */
void ws_peer_close(struct ws_peer *p, int code);

/* A whole message, for the owner's hooks; false: stop, the owner is gone. */
typedef bool ws_peer_msg_fn(void *arg, const char *data, size_t len, bool binary);

/*
 * Takes the frames at in's front, once open, each whole message to msg.
 * true: the end (flush out, then end with code and why); false: all
 * taken, or msg said stop.
 */
bool ws_peer_take(struct ws_peer *p, ws_peer_msg_fn *msg, void *arg);

/* Our close frame with code (unless one went) and the end: true, as above. */
bool ws_peer_end(struct ws_peer *p, int code, const char *why);

#endif

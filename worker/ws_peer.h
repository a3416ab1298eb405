/*
 * ws_peer.h - one open websocket's message layer, either side.
 *
 * Owns: what happens between frames and messages once the upgrade is
 * done: frames in -> whole messages out (pings answered, fragments
 * joined, over WS_PEER_MSG_MAX refused with 1009), our frames queued out,
 * and the close handshake (one close frame from us, none after it; the
 * peer's close answered). The wire format is ws_frame.c's.
 *
 * Must never touch a socket, an event or a hook: it reads the owner's
 * receive buffer and appends to its send buffer, and tells the owner by
 * its return value what to do (deliver a message, or flush and end). So
 * the two owners keep their differences in plain sight: a client (ws.c)
 * masks what it sends (mask_key) and refuses masked frames; a server
 * (ws_server.c, mask_key NULL) sends unmasked and refuses unmasked ones
 * with 1002. The owner writes, frees and runs the hooks its own way.
 *
 * Fails by ending the connection: ws_peer_next returns WS_PEER_END with
 * the close code and the words for it, our close frame queued if we
 * still may send one.
 */
#ifndef VG_WS_PEER_H
#define VG_WS_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "ws_frame.h"

/* A message larger than this is a broken peer (far past any provider's or Twilio's). */
#define WS_PEER_MSG_MAX (4u << 20)

struct ws_peer {
	struct buf *in;		/* the owner's: bytes read; frames are taken from its front */
	struct buf *out;	/* the owner's: frames to write; ours go after what is there */
	struct ws_msg msg;	/* the message being gathered, or whole after WS_PEER_MESSAGE */
	/* A client's fresh key for each frame (0 or -errno); NULL: a server's side. */
	int (*mask_key)(void *arg, uint8_t key[4]);
	void *key_arg;
	size_t off;		/* bytes at in's front taken as frames, not yet consumed */
	bool whole;		/* msg is the message last returned: reset at the next call */
	bool closing;		/* our close frame is queued: no frame of ours follows it */
	int code;		/* WS_PEER_END: the close code (0: the peer's close had none) */
	char why[124];		/* and its words: the peer's reason, or what we refused */
};

/* in and out stay the owner's; the peer only borrows them. */
void ws_peer_init(struct ws_peer *p, struct buf *in, struct buf *out,
		  int (*mask_key)(void *arg, uint8_t key[4]), void *key_arg);
/* Frees the message memory; the buffers are the owner's. */
void ws_peer_free(struct ws_peer *p);

/* Appends one frame to out (masked for a client). 0, -EIO (no key), -EMSGSIZE, -ENOMEM. */
int ws_peer_send(struct ws_peer *p, int opcode, const void *data, size_t len);

/*
 * Appends our close frame with code (0: an empty one), once; after it the
 * peer sends no pong or close. Only once open: the owner's upgrade first.
 */
void ws_peer_close(struct ws_peer *p, int code);

/* ws_peer_next's verdicts. */
enum { WS_PEER_MORE, WS_PEER_MESSAGE, WS_PEER_END };

/*
 * The next frames from in's front, while open: WS_PEER_MORE (all taken
 * and consumed: read more), WS_PEER_MESSAGE (msg holds a whole one; call
 * again for the rest) or WS_PEER_END (flush out, then end the connection
 * with code and why; call no more).
 */
int ws_peer_next(struct ws_peer *p);

/*
 * Our close with code (if we still may) and the end, as ws_peer_next's:
 * returns WS_PEER_END; the owner flushes, then ends with code and why.
 */
int ws_peer_end(struct ws_peer *p, int code, const char *why);

#endif

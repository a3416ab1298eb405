/*
 * chan.h - the supervisor <-> worker channel, with file-descriptor passing.
 *
 * Owns: the message format on each worker's SOCK_SEQPACKET socketpair and
 * SCM_RIGHTS transfer of an accepted call socket. Every message has the
 * same fixed size, a magic and a generation; at most one fd travels, and
 * only with CHAN_CALL.
 *
 * The receiver checks MSG_TRUNC/MSG_CTRUNC, the cmsg level, type and
 * length, and closes any descriptor it did not expect (as OpenSSH's
 * monitor_fdpass.c), so a confused peer cannot leak fds into a worker.
 */
#ifndef VG_CHAN_H
#define VG_CHAN_H

#include <stdint.h>

#define CHAN_MAGIC 0x7661636eu	/* "vacn" */

enum chan_type {
	CHAN_READY = 1,		/* worker -> sup: initialised, idle */
	CHAN_CALL,		/* sup -> worker: a call socket (with fd) */
	CHAN_DONE,		/* worker -> sup: call over; result says how */
	CHAN_RETIRE,		/* sup -> worker: finish, then exit */
};

enum chan_result {
	CHAN_CALL_OK = 0,	/* ended normally (either side hung up) */
	CHAN_CALL_FAILED,	/* protocol error, timeout, internal error */
};

enum chan_flags {
	CHAN_F_EXITING = 1,	/* with CHAN_DONE: this worker exits now */
	CHAN_F_TWILIO = 2,	/* with CHAN_CALL: the socket is a Twilio Media Streams
				 * websocket (not yet upgraded), not AudioSocket */
};

struct chan_msg {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t generation;
	uint32_t slot;
	uint64_t seq;		/* call sequence number, from the supervisor */
	int64_t t_accept_ns;	/* CLOCK_MONOTONIC when accept() returned */
	int32_t result;
	uint32_t reserved;
};

/* A socketpair for one worker (SOCK_SEQPACKET, close-on-exec). 0 or -errno. */
int chan_pair(int sv[2]);

/* Sends m, and fd when fd >= 0. 0, -EAGAIN, or -errno. Never SIGPIPEs. */
int chan_send(int sock, const struct chan_msg *m, int fd);

/*
 * Receives one message. *fd is -1 or the descriptor that came with
 * CHAN_CALL. fd NULL: this side takes no descriptors at all (the
 * supervisor reading a worker), so a message that carries one, CHAN_CALL
 * included, is malformed. 0; -EAGAIN if nothing waits; -EPIPE when the
 * peer closed; -EPROTO for a malformed message. Whatever the result, any
 * descriptor not handed out in *fd has been closed.
 */
int chan_recv(int sock, struct chan_msg *m, int *fd);

#endif

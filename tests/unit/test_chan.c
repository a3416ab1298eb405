/*
 * test_chan.c - unit tests for ipc/chan.h.
 *
 * Protects: the supervisor <-> worker channel: a call socket handed over
 * with CHAN_CALL arrives as a working descriptor for the same open file;
 * plain messages carry none; every malformed message (CHAN_CALL without an
 * fd, an fd on any other type, extra fds, a wrong magic, a datagram of the
 * wrong size) is refused with -EPROTO and leaks no descriptor into the
 * receiver; a closed peer is -EPIPE, an empty or full channel -EAGAIN,
 * and sending to a closed peer never raises SIGPIPE. A receiver that
 * takes no descriptors (the supervisor reading a worker) refuses every
 * message that carries one, CHAN_CALL included, and closes it: a worker
 * cannot fill the supervisor's descriptor table (issue: 600 CHAN_CALLs
 * with fds from a worker). An empty record that carries descriptors is
 * closed whether the peer is still there or not (the -EPIPE path).
 * Never: leaves a descriptor open; each test closes what it made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../ipc/chan.h"

/* Descriptors this process has open, as /proc/self/fd lists them. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

static struct chan_msg msg(uint16_t type)
{
	struct chan_msg m = {
		.magic = CHAN_MAGIC, .type = type, .flags = 0, .generation = 7,
		.slot = 3, .seq = 0x123456789abcull, .t_accept_ns = -42, .result = 0,
	};
	return m;
}

/* Sends m with the given descriptors in one SCM_RIGHTS message. */
static void send_raw_fds(int sock, const struct chan_msg *m, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&cm, 0, sizeof(cm));
	mh.msg_control = cm.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)sizeof(*m));
}

static void test_call_passes_working_descriptor(void **state)
{
	(void)state;
	int sv[2], p[2], fd = -5;
	struct chan_msg m = msg(CHAN_CALL), got;
	char buf[8];

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(chan_send(sv[0], &m, p[0]), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	assert_true(fd >= 0);
	assert_int_not_equal(fd, p[0]);	/* a new descriptor... */

	/* ...for the same pipe: written at one end, read through it. */
	assert_int_equal(write(p[1], "hello", 5), 5);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	/* The message arrives whole. */
	assert_int_equal(got.magic, CHAN_MAGIC);
	assert_int_equal(got.type, CHAN_CALL);
	assert_int_equal(got.generation, 7);
	assert_int_equal(got.slot, 3);
	assert_int_equal(got.seq, 0x123456789abcull);
	assert_int_equal(got.t_accept_ns, -42);

	/* The sender may close its copy; the receiver's stays usable. */
	close(p[0]);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(read(fd, buf, 1), 1);
	close(fd);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_ready_without_fd_is_received(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg m = msg(CHAN_READY), got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(chan_send(sv[1], &m, -1), 0);
	assert_int_equal(chan_recv(sv[0], &got, &fd), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(got.type, CHAN_READY);
	assert_int_equal(got.slot, 3);

	/* Both directions work, and DONE carries its result. */
	m = msg(CHAN_DONE);
	m.result = CHAN_CALL_FAILED;
	m.flags = CHAN_F_EXITING;
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	fd = 99;
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	assert_int_equal(fd, -1);
	assert_int_equal(got.type, CHAN_DONE);
	assert_int_equal(got.result, CHAN_CALL_FAILED);
	assert_int_equal(got.flags, CHAN_F_EXITING);
	close(sv[0]);
	close(sv[1]);
}

static void test_messages_keep_their_boundaries_and_order(void **state)
{
	(void)state;
	int sv[2], fd;
	struct chan_msg got;

	assert_int_equal(chan_pair(sv), 0);
	for (uint32_t i = 0; i < 5; i++) {
		struct chan_msg m = msg(CHAN_READY);
		m.slot = i;
		assert_int_equal(chan_send(sv[0], &m, -1), 0);
	}
	for (uint32_t i = 0; i < 5; i++) {
		assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
		assert_int_equal(got.slot, i);
	}
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

static void test_call_without_fd_is_refused(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg m = msg(CHAN_CALL), got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	close(sv[0]);
	close(sv[1]);
}

static void test_fd_on_non_call_is_refused_and_closed(void **state)
{
	(void)state;
	static const uint16_t types[] = { CHAN_READY, CHAN_DONE, CHAN_RETIRE, 0, 77 };
	int sv[2], p[2], fd;
	struct chan_msg got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct chan_msg m = msg(types[i]);
		assert_int_equal(chan_send(sv[0], &m, p[0]), 0);
		fd = 99;
		assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
		assert_int_equal(fd, -1);
		assert_int_equal(open_fds(), before);
	}
	/* The pipe's only reader is p[0] again: no copy of it lives on. */
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(write(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	signal(SIGPIPE, SIG_DFL);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_call_with_two_fds_is_refused_and_both_closed(void **state)
{
	(void)state;
	int sv[2], p[2], fd = 99;
	struct chan_msg m = msg(CHAN_CALL), got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	send_raw_fds(sv[0], &m, p, 2);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);

	/* More fds than the receiver has room for: still nothing leaks. */
	int many[8] = { p[0], p[1], p[0], p[1], p[0], p[1], p[0], p[1] };
	send_raw_fds(sv[0], &m, many, 8);
	fd = 99;
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_wrong_magic_is_refused(void **state)
{
	(void)state;
	int sv[2], p[2], fd = 99;
	struct chan_msg m = msg(CHAN_READY), got;

	assert_int_equal(chan_pair(sv), 0);
	m.magic = CHAN_MAGIC ^ 1;
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);

	/* A CHAN_CALL with a wrong magic: its fd is closed, not handed out. */
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	m = msg(CHAN_CALL);
	m.magic = 0;
	assert_int_equal(chan_send(sv[0], &m, p[0]), 0);
	fd = 99;
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_datagram_of_wrong_size_is_refused(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg m = msg(CHAN_READY), got;
	uint8_t big[sizeof(m) + 8];

	assert_int_equal(chan_pair(sv), 0);
	/* Short: a valid message's first bytes, magic included. */
	assert_int_equal(send(sv[0], &m, sizeof(m) - 1, 0), (ssize_t)sizeof(m) - 1);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	assert_int_equal(send(sv[0], &m, 8, 0), 8);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);

	/* Long: a valid message with bytes after it. */
	memset(big, 0, sizeof(big));
	memcpy(big, &m, sizeof(m));
	assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);

	/* Each bad datagram was consumed whole: the next good one is read. */
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	assert_int_equal(got.type, CHAN_READY);
	close(sv[0]);
	close(sv[1]);
}

static void test_empty_datagram_from_live_peer_is_eproto_not_epipe(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg m = msg(CHAN_READY), got;

	/*
	 * A zero-length datagram is a malformed message, not a close: the
	 * supervisor stops listening to a worker whose channel says -EPIPE.
	 */
	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(send(sv[0], "", 0, 0), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	/* The peer is still there and still heard. */
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_closed_peer_is_epipe(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg m = msg(CHAN_READY), got;

	assert_int_equal(chan_pair(sv), 0);
	/* What was sent before the close is still delivered first. */
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	close(sv[0]);
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPIPE);
	assert_int_equal(fd, -1);
	close(sv[1]);
}

static void test_send_to_closed_peer_fails_without_sigpipe(void **state)
{
	(void)state;
	int sv[2];
	struct chan_msg m = msg(CHAN_RETIRE);

	/* SIGPIPE at its default action would kill this test process. */
	signal(SIGPIPE, SIG_DFL);
	assert_int_equal(chan_pair(sv), 0);
	close(sv[1]);
	assert_int_equal(chan_send(sv[0], &m, -1), -EPIPE);
	close(sv[0]);
}

static void test_nothing_waiting_is_eagain(void **state)
{
	(void)state;
	int sv[2], fd = 99;
	struct chan_msg got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(chan_recv(sv[0], &got, &fd), -EAGAIN);
	assert_int_equal(fd, -1);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

static void test_full_channel_is_eagain(void **state)
{
	(void)state;
	int sv[2], fd, rc = 0, sent = 0;
	struct chan_msg m = msg(CHAN_READY), got;

	assert_int_equal(chan_pair(sv), 0);
	while (sent < 1000000 && (rc = chan_send(sv[0], &m, -1)) == 0)
		sent++;
	assert_int_equal(rc, -EAGAIN);
	assert_true(sent > 0);
	/* Draining one makes room again. */
	assert_int_equal(chan_recv(sv[1], &got, &fd), 0);
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_pair_is_close_on_exec(void **state)
{
	(void)state;
	int sv[2];

	assert_int_equal(chan_pair(sv), 0);
	assert_true(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(sv[1], F_GETFD) & FD_CLOEXEC);
	close(sv[0]);
	close(sv[1]);
}

/* Sends a zero-length record that carries fd, as a hostile peer could. */
static void send_empty_with_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	char none;
	struct iovec iov = { .iov_base = &none, .iov_len = 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };

	memset(&cm, 0, sizeof(cm));
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	assert_int_equal(sendmsg(sock, &mh, MSG_NOSIGNAL), 0);
}

static void test_receiver_taking_no_fds_refuses_and_closes_call_fds(void **state)
{
	(void)state;
	int sv[2], p[2];
	struct chan_msg m = msg(CHAN_CALL), got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	/* More than a small descriptor table holds: none of them may stay. */
	for (int i = 0; i < 600; i++) {
		assert_int_equal(chan_send(sv[0], &m, p[0]), 0);
		assert_int_equal(chan_recv(sv[1], &got, NULL), -EPROTO);
		assert_int_equal(open_fds(), before);
	}
	/* The same receiver still reads plain messages. */
	m = msg(CHAN_DONE);
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, NULL), 0);
	assert_int_equal(got.type, CHAN_DONE);
	/* A CHAN_CALL without a descriptor is no message for it either. */
	m = msg(CHAN_CALL);
	assert_int_equal(chan_send(sv[0], &m, -1), 0);
	assert_int_equal(chan_recv(sv[1], &got, NULL), -EPROTO);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

static void test_queued_fds_then_close_leak_nothing(void **state)
{
	(void)state;
	int sv[2], p[2], fd = 99, rc, n = 0;
	struct chan_msg m = msg(CHAN_READY), got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	for (int i = 0; i < 16; i++)
		assert_int_equal(chan_send(sv[0], &m, p[0]), 0);
	close(sv[0]);
	while ((rc = chan_recv(sv[1], &got, &fd)) == -EPROTO)
		n++;
	assert_int_equal(n, 16);
	assert_int_equal(rc, -EPIPE);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before - 1);	/* sv[0] */
	close(p[0]);
	close(p[1]);
	close(sv[1]);
}

static void test_empty_record_with_fd_is_closed_on_every_path(void **state)
{
	(void)state;
	int sv[2], p[2], fd = 99;
	struct chan_msg got;

	assert_int_equal(chan_pair(sv), 0);
	assert_int_equal(pipe(p), 0);
	int before = open_fds();
	/* Peer still there: -EPROTO, descriptor closed. */
	send_empty_with_fd(sv[0], p[0]);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPROTO);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before);
	/* Peer gone right after: -EPIPE, and still nothing kept. */
	send_empty_with_fd(sv[0], p[0]);
	close(sv[0]);
	assert_int_equal(chan_recv(sv[1], &got, &fd), -EPIPE);
	assert_int_equal(fd, -1);
	assert_int_equal(open_fds(), before - 1);	/* sv[0] */
	close(p[0]);
	close(p[1]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_call_passes_working_descriptor),
		cmocka_unit_test(test_ready_without_fd_is_received),
		cmocka_unit_test(test_messages_keep_their_boundaries_and_order),
		cmocka_unit_test(test_call_without_fd_is_refused),
		cmocka_unit_test(test_fd_on_non_call_is_refused_and_closed),
		cmocka_unit_test(test_call_with_two_fds_is_refused_and_both_closed),
		cmocka_unit_test(test_wrong_magic_is_refused),
		cmocka_unit_test(test_datagram_of_wrong_size_is_refused),
		cmocka_unit_test(test_empty_datagram_from_live_peer_is_eproto_not_epipe),
		cmocka_unit_test(test_closed_peer_is_epipe),
		cmocka_unit_test(test_send_to_closed_peer_fails_without_sigpipe),
		cmocka_unit_test(test_nothing_waiting_is_eagain),
		cmocka_unit_test(test_full_channel_is_eagain),
		cmocka_unit_test(test_pair_is_close_on_exec),
		cmocka_unit_test(test_receiver_taking_no_fds_refuses_and_closes_call_fds),
		cmocka_unit_test(test_queued_fds_then_close_leak_nothing),
		cmocka_unit_test(test_empty_record_with_fd_is_closed_on_every_path),
	};

	return cmocka_run_group_tests_name("chan", tests, NULL, NULL);
}

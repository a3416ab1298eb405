/*
 * vagent_wakefloor.c - vagent-wakefloor: what a bare 20 ms wake-up costs
 * on this host, the floor under any design whose calls each pace their
 * own audio.
 *
 * N tasks each wake every 20 ms on a timerfd through epoll_wait, as a
 * call's pacer must, and do nothing else. As processes (the default) that
 * is a call's worker with no work; with -t they are threads of one
 * process, for comparison (no address-space switch between them). Prints
 * one JSON object: CPU per wake-up and per call-minute. make bench runs
 * it beside the cost lines, so a figure measured here can be read against
 * what the host charges for the wake-ups alone.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define PERIOD_NS 20000000L
#define PHASE_STEP_NS 397000L	/* tasks spread over the period, as calls are */
#define MAX_THREADS 4096

struct task {
	long index;
	long periods;		/* how many 20 ms periods to run */
	uint64_t wakes;		/* out: epoll_wait returns */
	int err;		/* out: errno of a failure, else 0 */
};

static void run_task(struct task *t)
{
	long phase = 1000000L + (t->index * PHASE_STEP_NS) % PERIOD_NS;
	struct itimerspec its = { { 0, PERIOD_NS }, { 0, phase } };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	long done = 0;

	if (tfd < 0 || ep < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0) {
		t->err = errno;
		return;
	}
	while (done < t->periods) {
		uint64_t n;

		if (epoll_wait(ep, &out, 1, -1) < 1)
			continue;
		t->wakes++;
		if (read(tfd, &n, sizeof(n)) == (ssize_t)sizeof(n))
			done += (long)n;
	}
	close(tfd);
	close(ep);
}

static void *thread_main(void *arg)
{
	run_task(arg);
	return NULL;
}

static double rusage_s(int who)
{
	struct rusage ru;

	getrusage(who, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Each child writes its wake count to the pipe as it ends. */
static int run_processes(int n, long periods, uint64_t *wakes, double *cpu)
{
	int fds[2], rc = 0;

	if (pipe(fds) < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {	/* those started still finish and are reaped */
			rc = -errno;
			break;
		}
		if (pid == 0) {
			struct task t = { .index = i, .periods = periods };

			close(fds[0]);
			run_task(&t);
			_exit(t.err || write(fds[1], &t.wakes, sizeof(t.wakes)) != sizeof(t.wakes));
		}
	}
	close(fds[1]);
	uint64_t w;
	int status, failed = 0;

	while (read(fds[0], &w, sizeof(w)) == (ssize_t)sizeof(w))
		*wakes += w;
	close(fds[0]);
	while (wait(&status) > 0)
		failed += !WIFEXITED(status) || WEXITSTATUS(status);
	*cpu = rusage_s(RUSAGE_CHILDREN);
	return rc ? rc : failed ? -EIO : 0;
}

static int run_threads(int n, long periods, uint64_t *wakes, double *cpu)
{
	static pthread_t tid[MAX_THREADS];
	static struct task t[MAX_THREADS];
	double before = rusage_s(RUSAGE_SELF);
	int started = 0, rc = 0;

	for (; started < n; started++) {
		t[started] = (struct task){ .index = started, .periods = periods };
		if ((rc = -pthread_create(&tid[started], NULL, thread_main, &t[started])))
			break;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(tid[i], NULL);
		*wakes += t[i].wakes;
		if (t[i].err && !rc)
			rc = -t[i].err;
	}
	*cpu = rusage_s(RUSAGE_SELF) - before;
	return rc;
}

int main(int argc, char **argv)
{
	int n = 50, seconds = 10, opt, rc;
	bool threads = false;
	uint64_t wakes = 0;
	double cpu = 0;

	while ((opt = getopt(argc, argv, "n:s:t")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 't': threads = true; break;
		default:
			fprintf(stderr, "usage: vagent-wakefloor [-n TASKS] [-s SECONDS] [-t]\n");
			return 2;
		}
	}
	if (n < 1 || n > MAX_THREADS || seconds < 1) {
		fprintf(stderr, "vagent-wakefloor: -n 1-%d, -s at least 1\n", MAX_THREADS);
		return 2;
	}
	long periods = (long)seconds * (1000000000L / PERIOD_NS);

	rc = threads ? run_threads(n, periods, &wakes, &cpu)
		     : run_processes(n, periods, &wakes, &cpu);
	if (rc < 0) {
		fprintf(stderr, "vagent-wakefloor: %s\n", strerror(-rc));
		return 1;
	}
	printf("{\"tasks\":%d,\"kind\":\"%s\",\"seconds\":%d,\"wakes\":%llu,\"cpu_s\":%.3f,"
	       "\"us_per_wake\":%.1f,\"ms_per_call_min\":%.1f}\n",
	       n, threads ? "threads" : "processes", seconds, (unsigned long long)wakes, cpu,
	       wakes ? cpu * 1e6 / (double)wakes : 0.0, cpu * 1000.0 / (n * seconds / 60.0));
	return 0;
}

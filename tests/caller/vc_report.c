/*
 * vc_report.c - what vagent-call tells at the end of a run.
 *
 * Owns: outcome names, the per-call lines on stderr, the -T arrival-time
 * CSV and the -j JSON summary. Runs once, after the event loop: nothing
 * here is on the 20 ms path.
 *
 * Percentiles are exact over all samples: sorted, then interpolated
 * linearly between the two nearest ranks (numpy's default), 0 when there
 * is no sample. Jitter of a call's consecutive received audio frames is
 * |(t_i - t_i-1) - d_i-1|, d being a frame's audio (20 ms, or a short
 * message's less: a phone plays the next frame once the last has played),
 * arrival times being the kernel's stamps (vc_call.c).
 *
 * Never: changes a call; JSON keys are a contract with the test scripts
 * and do not change.
 * Fails: a file that cannot be written is named on stderr and makes the
 * run fail (-1); what could be reported still is.
 */
#include "vc.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/vg_time.h"

static const char *const outcome_names[OUT_COUNT] = {
	[OUT_NONE] = "none",
	[OUT_COMPLETED] = "completed",
	[OUT_REJECTED] = "rejected",
	[OUT_SERVER_HANGUP] = "server_hangup",
	[OUT_SERVER_CLOSED] = "server_closed",
	[OUT_CONNECT_ERROR] = "connect_error",
	[OUT_PROTOCOL_ERROR] = "protocol_error",
	[OUT_INTERRUPTED] = "interrupted",
};

const char *outcome_name(enum outcome o)
{
	return o < OUT_COUNT ? outcome_names[o] : "none";
}

/* What makes the exit status 1 (and counts as "errors" in the JSON). */
bool outcome_is_error(enum outcome o)
{
	return o == OUT_CONNECT_ERROR || o == OUT_PROTOCOL_ERROR || o == OUT_INTERRUPTED ||
	       o == OUT_NONE;
}

static double call_seconds(const struct call *c)
{
	return c->t_connect ? (double)(c->t_end - c->t_connect) / NS_PER_S : 0.0;
}

static void call_line(const struct call *c)
{
	fprintf(stderr, "call %d %s %s sent %llu received %llu %.3f s (%s)",
		c->index, c->uuid_str, outcome_name(c->outcome),
		(unsigned long long)c->frames_sent, (unsigned long long)c->frames_received,
		call_seconds(c), c->reason);
	if (c->odd_kind)
		fprintf(stderr, "; server sent audio kind 0x%02x on a %d Hz call",
			c->odd_kind, c->audio->rate);
	if (c->rec_failed)
		fprintf(stderr, "; recording failed");
	if (c->oom)
		fprintf(stderr, "; out of memory, samples incomplete");
	fputc('\n', stderr);
}

void report_calls(const struct vc *vc)
{
	int failed = 0, first = -1;

	for (int i = 0; i < vc->ncalls; i++) {
		const struct call *c = &vc->calls[i];
		if (!vc->o.quiet) {
			fprintf(stderr, "vagent-call: ");
			call_line(c);
		}
		else if (outcome_is_error(c->outcome) || c->rec_failed || c->oom) {
			if (first < 0)
				first = i;
			failed++;
		}
	}
	if (failed) {	/* -q: one line, so a failure is never silent */
		fprintf(stderr, "vagent-call: %d of %d calls failed; the first: ", failed,
			vc->ncalls);
		call_line(&vc->calls[first]);
	}
}

int report_times(const struct vc *vc)
{
	FILE *fp = fopen(vc->o.times_path, "w");

	if (!fp) {
		fprintf(stderr, "vagent-call: -T %s: %s\n", vc->o.times_path, strerror(errno));
		return -1;
	}
	fprintf(fp, "call,frame,t_us,bytes,kind\n");
	for (int i = 0; i < vc->ncalls; i++) {
		const struct call *c = &vc->calls[i];
		for (size_t f = 0; f < c->nrx; f++)
			fprintf(fp, "%d,%zu,%lld,%u,%u\n", i, f,
				(long long)(c->rx[f].t_ns / NS_PER_US), (unsigned)c->rx[f].bytes,
				(unsigned)c->rx[f].kind);
	}
	if (ferror(fp) | (fclose(fp) != 0)) {
		fprintf(stderr, "vagent-call: -T %s: write failed\n", vc->o.times_path);
		return -1;
	}
	return 0;
}

/* ---- JSON ---- */

struct totals {
	unsigned long long by_outcome[OUT_COUNT];
	unsigned long long errors, sent, received;
	double *jitter;		/* every call's samples, off either way, sorted */
	double *late;		/* the same, only how late (early: 0), sorted */
	size_t njitter;
	uint64_t pauses, shared_read;
	double *first_audio;	/* ms, one per call that both sent and got audio */
	size_t nfirst;
	double *turns;		/* ms, every answered turn of every call, sorted */
	size_t nturns;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double percentile(const double *sorted, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	double pos = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - (double)lo);
}

static int gather(const struct vc *vc, struct totals *t)
{
	size_t nj = 0, nt = 0;

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < vc->ncalls; i++) {
		nj += vc->calls[i].njitter;
		nt += vc->calls[i].nturn;
	}
	t->turns = malloc((nt ? nt : 1) * sizeof(double));
	t->jitter = malloc((nj ? nj : 1) * sizeof(double));
	t->late = malloc((nj ? nj : 1) * sizeof(double));
	t->first_audio = malloc((size_t)vc->ncalls * sizeof(double));
	if (!t->jitter || !t->late || !t->first_audio || !t->turns)
		return -ENOMEM;
	for (int i = 0; i < vc->ncalls; i++) {
		const struct call *c = &vc->calls[i];
		t->by_outcome[c->outcome < OUT_COUNT ? c->outcome : OUT_NONE]++;
		t->errors += outcome_is_error(c->outcome);
		t->sent += c->frames_sent;
		t->received += c->frames_received;
		for (size_t k = 0; k < c->njitter; k++) {
			double off = c->jitter_ms[k];

			t->jitter[t->njitter] = fabs(off);
			t->late[t->njitter++] = off > 0 ? off : 0;
		}
		t->pauses += c->pauses;
		t->shared_read += c->shared_read;
		if (c->nturn)	/* turn_ms is NULL until a first turn */
			memcpy(t->turns + t->nturns, c->turn_ms, c->nturn * sizeof(double));
		t->nturns += c->nturn;
		if (c->t_first_tx_audio && c->t_first_rx_audio)
			t->first_audio[t->nfirst++] =
				(double)(c->t_first_rx_audio - c->t_first_tx_audio) / NS_PER_MS;
	}
	qsort(t->jitter, t->njitter, sizeof(double), cmp_double);
	qsort(t->late, t->njitter, sizeof(double), cmp_double);
	qsort(t->first_audio, t->nfirst, sizeof(double), cmp_double);
	qsort(t->turns, t->nturns, sizeof(double), cmp_double);
	return 0;
}

static void json_result(const struct call *c, bool last)
{
	printf("{\"index\":%d,\"uuid\":\"%s\",\"outcome\":\"%s\",\"frames_sent\":%llu,"
	       "\"frames_received\":%llu,\"samples_received\":%llu,\"duration_ms\":%lld}%s",
	       c->index, c->uuid_str, outcome_name(c->outcome),
	       (unsigned long long)c->frames_sent, (unsigned long long)c->frames_received,
	       (unsigned long long)c->samples_received,
	       (long long)llround(call_seconds(c) * 1000.0), last ? "" : ",");
}

static void json_print(const struct vc *vc, const struct totals *t)
{
	printf("{\"calls\":%d,\"completed\":%llu,\"rejected\":%llu,\"server_hangup\":%llu,"
	       "\"server_closed\":%llu,\"errors\":%llu,\"frames_sent\":%llu,"
	       "\"frames_received\":%llu,",
	       vc->ncalls, t->by_outcome[OUT_COMPLETED], t->by_outcome[OUT_REJECTED],
	       t->by_outcome[OUT_SERVER_HANGUP], t->by_outcome[OUT_SERVER_CLOSED],
	       t->errors, t->sent, t->received);
	printf("\"jitter_p50_ms\":%.3f,\"jitter_p99_ms\":%.3f,\"jitter_max_ms\":%.3f,"
	       "\"jitter_late_p99_ms\":%.3f,"
	       "\"jitter_samples\":%zu,\"pauses\":%llu,\"frames_sharing_a_read\":%llu,"
	       "\"first_audio_p50_ms\":%.3f,\"first_audio_p99_ms\":%.3f,",
	       percentile(t->jitter, t->njitter, 50), percentile(t->jitter, t->njitter, 99),
	       t->njitter ? t->jitter[t->njitter - 1] : 0.0,
	       percentile(t->late, t->njitter, 99), t->njitter,
	       (unsigned long long)t->pauses, (unsigned long long)t->shared_read,
	       percentile(t->first_audio, t->nfirst, 50),
	       percentile(t->first_audio, t->nfirst, 99));
	printf("\"turns\":%zu,\"turn_p50_ms\":%.3f,\"turn_p99_ms\":%.3f,\"turn_max_ms\":%.3f,",
	       t->nturns, percentile(t->turns, t->nturns, 50), percentile(t->turns, t->nturns, 99),
	       t->nturns ? t->turns[t->nturns - 1] : 0.0);
	printf("\"results\":[");
	for (int i = 0; i < vc->ncalls; i++)
		json_result(&vc->calls[i], i == vc->ncalls - 1);
	printf("]}\n");
}

int report_json(const struct vc *vc)
{
	struct totals t;
	int rc = gather(vc, &t);

	if (rc == 0)
		json_print(vc, &t);
	else
		fprintf(stderr, "vagent-call: -j: out of memory\n");
	free(t.jitter);
	free(t.late);
	free(t.first_audio);
	free(t.turns);
	if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout))) {
		fprintf(stderr, "vagent-call: -j: writing stdout: %s\n", strerror(errno));
		rc = -1;
	}
	return rc < 0 ? -1 : 0;
}

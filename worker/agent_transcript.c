/*
 * agent_transcript.c - the call's transcript for its call record: who
 * said what, when, in the order it was said.
 *
 * Owns: the entries of a->transcript, {role, text, t_ms} and, for an
 * agent reply the caller talked over, "interrupted" with only the part
 * that was heard. The array itself is made and freed with the agent
 * (eng_local.c), and dumped into the call's summary there.
 *
 * Never: logs, or changes anything but the transcript.
 *
 * Fails: 0, or -EINVAL when the entry could not be made (out of memory,
 * or text that is not UTF-8, which jansson refuses); the entry is then
 * missing and the call goes on, since a record is not worth a caller.
 *
 * t_ms is from the call's start on the wall clock, as the call record's
 * start time is, so a reader can line the two up.
 */
#include <errno.h>

#include "../common/vg_time.h"
#include "agent.h"
#include "call.h"

static int64_t call_ms(const struct agent *a)
{
	return (real_ns() - call_start_real_ns(a->call)) / NS_PER_MS;
}

static int add(struct agent *a, json_t *entry)
{
	return json_array_append_new(a->transcript, entry) < 0 ? -EINVAL : 0;
}

int agent_transcript(struct agent *a, const char *role, const char *text)
{
	return add(a, json_pack("{s:s, s:s, s:I}", "role", role, "text", text, "t_ms",
				(json_int_t)call_ms(a)));
}

int agent_transcript_cut(struct agent *a, const char *heard)
{
	return add(a, json_pack("{s:s, s:s, s:b, s:I}", "role", "agent", "text", heard,
				"interrupted", 1, "t_ms", (json_int_t)call_ms(a)));
}

/*
 * agent_handoff.c - handing a call back to the dialplan (minimal).
 *
 * Owns: ending a call the agent cannot serve, after a goodbye, with the
 * reason in the log. The dialplan's side (a reason file it reads after
 * AudioSocket() returns, then a human queue or voicemail) belongs to the
 * hand-off work, which replaces this file; its one promise to callers
 * stays: the goodbye is said, then the AudioSocket connection is closed
 * by us.
 */
#include "../common/conf.h"
#include "../common/log.h"
#include "agent.h"

void agent_handoff(struct agent *a, const char *reason)
{
	log_info("agent", a->uuid, "handing the call back: %s", reason);
	agent_say_and_end(a, a->conf->local_goodbye, false, reason);
}

/*
 * agent_state.c - the one place a local agent's state changes.
 *
 * Owns: a->state and the table of the changes allowed between states. Every
 * change goes through agent_enter(), which checks it against the table and
 * logs it at debug with the call UUID; no other file assigns a->state.
 *
 * Never: does anything but change the state and log: what a state means
 * (stop a reply, ask the model) is the caller's business.
 *
 * Fails: a change the table does not allow is refused (-EPERM), logged at
 * error, and the agent stays where it was. Not a panic, because the ones
 * that can happen come from the order of peer events, not from a broken
 * invariant of ours alone: speech-to-text lost for good (ENDING) while
 * the model is still answering or the context is still being fetched,
 * whose answer then tries to move the agent on. Refusing keeps the hang-up
 * that was already decided; a panic would cut the caller off mid-sentence.
 *
 * The one non-obvious rule: ENDING is final. Once the hang-up is decided,
 * no late event may bring the agent back to listening or thinking.
 */
#include <errno.h>
#include <stdbool.h>

#include "../common/log.h"
#include "agent.h"

static const char *const names[AG_NSTATES] = {
	[AG_CONTEXT] = "context", [AG_LISTENING] = "listening",
	[AG_THINKING] = "thinking", [AG_SPEAKING] = "speaking",
	[AG_TOOLS] = "tools", [AG_ENDING] = "ending",
};

/* allowed[from][to]; staying in a state is always allowed (and not logged). */
static const bool allowed[AG_NSTATES][AG_NSTATES] = {
	/* A goodbye or apology may be said before the context is known. */
	[AG_CONTEXT] = { [AG_LISTENING] = true, [AG_SPEAKING] = true, [AG_ENDING] = true },
	/* The model may still be answering when a reply ends or is cut. */
	[AG_LISTENING] = { [AG_THINKING] = true, [AG_SPEAKING] = true, [AG_TOOLS] = true,
			   [AG_ENDING] = true },
	[AG_THINKING] = { [AG_LISTENING] = true, [AG_SPEAKING] = true, [AG_TOOLS] = true,
			  [AG_ENDING] = true },
	[AG_SPEAKING] = { [AG_LISTENING] = true, [AG_THINKING] = true, [AG_TOOLS] = true,
			  [AG_ENDING] = true },
	/* A filler said while tools run leaves the state at TOOLS. */
	[AG_TOOLS] = { [AG_THINKING] = true, [AG_ENDING] = true },
	[AG_ENDING] = { false },	/* final: see the header */
};

int agent_enter(struct agent *a, enum agent_state to, const char *why)
{
	enum agent_state from = a->state;

	if (to == from)
		return 0;
	if ((unsigned)from >= AG_NSTATES || (unsigned)to >= AG_NSTATES || !allowed[from][to]) {
		log_error("agent", a->uuid, "state %s -> %s (%s) refused: not an allowed change",
			  (unsigned)from < AG_NSTATES ? names[from] : "?",
			  (unsigned)to < AG_NSTATES ? names[to] : "?", why);
		return -EPERM;
	}
	a->state = to;
	log_debug("agent", a->uuid, "state %s -> %s (%s)", names[from], names[to], why);
	return 0;
}

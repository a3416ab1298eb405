/*
 * agent_keypad.c - the caller's keys (DTMF) as the dialog's input.
 *
 *   0 first          a person, at once: agent_handoff("dtmf-0") stops what
 *                    is being said and says the hand-off goodbye.
 *   other digits     typed input (a house number, the digits of a phone
 *                    number, "press 1 to confirm"): collected until # or
 *                    KEY_PAUSE without a key, then the caller's turn as
 *                    text: "42 (typed on the keypad)"; a lone 1 is
 *                    "yes (pressed 1)", a lone 2 "no (pressed 2)", which
 *                    the prompt tells the model to offer when confirming.
 *                    A 0 after another digit is a digit ("10").
 *   *                clears what was typed.   A-D: ignored.
 *
 * The pause is checked on the pacer's ticks (agent_keypad_tick), like the
 * caller's silence: the engine has no timer of its own. Keys are ignored
 * once the call is ending.
 *
 * Owns: a->keys, a->nkeys, a->key_ns. Never: blocks or logs per key (the
 * call logs each DTMF frame already).
 */
#include <stdio.h>
#include <string.h>

#include "../common/vg_time.h"
#include "agent.h"

#define KEY_PAUSE_NS (3 * NS_PER_S)

/* The keys typed so far become the caller's turn. */
static void typed(struct agent *a, int64_t now)
{
	char text[sizeof(a->keys) + 32];

	if (!a->nkeys)
		return;
	a->keys[a->nkeys] = '\0';
	a->nkeys = 0;
	if (!strcmp(a->keys, "1"))
		snprintf(text, sizeof(text), "yes (pressed 1)");
	else if (!strcmp(a->keys, "2"))
		snprintf(text, sizeof(text), "no (pressed 2)");
	else
		snprintf(text, sizeof(text), "%s (typed on the keypad)", a->keys);
	/* Room for both first: a failed add leaves no stray space behind. */
	if (buf_reserve(&a->heard, strlen(text) + 1, NULL) < 0)
		return;
	if (a->heard.len)
		buf_append_byte(&a->heard, ' ');
	buf_append_str(&a->heard, text);
	a->last_activity_ns = now;
	agent_user_turn(a);
}

void agent_keypad(struct agent *a, char key, int64_t now)
{
	if (a->handoff[0] || a->state == AG_ENDING)
		return;
	if (key == '0' && !a->nkeys) {
		agent_handoff(a, "dtmf-0");
		return;
	}
	a->last_activity_ns = now;	/* typing is not silence */
	if (key == '*') {
		a->nkeys = 0;
	} else if (key == '#') {
		typed(a, now);
	} else if (key >= '0' && key <= '9') {
		a->keys[a->nkeys++] = key;
		a->key_ns = now;
		if (a->nkeys == sizeof(a->keys) - 1)
			typed(a, now);
	}
}

void agent_keypad_tick(struct agent *a, int64_t now)
{
	if (a->nkeys && now - a->key_ns >= KEY_PAUSE_NS)
		typed(a, now);
}

/*
 * ctl_provision.h - vagentctl provision elevenlabs: set up the cloud agent.
 *
 * Owns: creating or updating, found by name, the getCallContext and
 * createBooking server tools (pointing at [elevenlabs] public_url with our
 * [api] key) and the agent ([elevenlabs] agent_name, voice, model, llm,
 * prompt_file) over ElevenLabs' REST API, then writing the three IDs to
 * [elevenlabs] ids_file (0600, replaced whole). --dry-run prints the bodies
 * it would send, with placeholders for keys and IDs, and touches nothing.
 * Must never: print or write either API key; create a second tool or agent
 * when one of that name exists.
 * Fails with one line on stderr: "ElevenLabs refused the API key" for a
 * 401, else the method, path, status and the error body's message.
 */
#ifndef VG_CTL_PROVISION_H
#define VG_CTL_PROVISION_H

struct conf;

/*
 * argv holds the words after "provision": argv[0] is "elevenlabs", then
 * its options. Returns the process exit status: 0 done, 1 failed, 2 usage.
 */
int ctl_provision(const struct conf *c, int argc, char **argv);

#endif

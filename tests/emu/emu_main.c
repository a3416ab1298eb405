/*
 * emu_main.c - vagent-emu: a TEST DOUBLE of vagent's providers (Deepgram
 * live STT, OpenAI/Groq chat completions, Cartesia TTS) on 127.0.0.1, for
 * tests and benchmarks. Never point it at anything but tests; nothing in
 * vagent depends on it.
 *
 * Owns: the command line, start-up order and shutdown. The main thread
 * runs libevent (the OpenAI emulator and the signals); the websocket
 * emulators run on the lws thread (emu_ws.c), synthesis on its own
 * (emu_tts.c). Prints "vagent-emu: ready" once every listener is bound.
 * Never: does work in a signal handler (libevent's evsignal wakes the loop).
 * Fails: a bad option, script or port is fatal at start-up (exit 1, one
 * line on stderr); SIGTERM/SIGINT exit 0.
 */
#include "emu.h"

#include "../../common/log.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

static void usage(FILE *f)
{
	fprintf(f,
"usage: vagent-emu --script FILE [--deepgram PORT] [--openai PORT] [--cartesia PORT]\n"
"                  [--elevenlabs PORT] [--key-elevenlabs K]\n"
"                  [--stt-final-ms 120] [--stt-idle-ms 10000] [--vad-rms 500]\n"
"                  [--ttft-ms 50] [--tokens-per-s 200] [--tts-ttfb-ms 40] [--tts-rtf 0.25]\n"
"                  [--voice en-gb] [--key-deepgram K] [--key-openai K] [--key-cartesia K]\n"
"                  [--log FILE] [--faults SPEC] [--xi-api PORT] [--key-xi-api K]\n"
"                  [--xi-agent PORT] [--key-xi-agent K] [--xi-agent-script FILE]\n"
"                  [--twilio-rest PORT] [--twilio-sid SID] [--twilio-token TOKEN]\n"
"                  [--twilio-connect-to HOST:PORT [--twilio-callee-wav FILE]]\n"
"\n"
"vagent-emu is a TEST DOUBLE: it imitates Deepgram live STT (ws://.../v1/listen),\n"
"OpenAI/Groq chat completions (http://.../v1/chat/completions and\n"
"/openai/v1/chat/completions) and Cartesia TTS (ws://.../tts/websocket) on\n"
"127.0.0.1, saying what the script says, for vagent's tests and benchmarks.\n"
"\n"
"  --script FILE       JSON: {\"stt\":[...], \"llm\":[...], \"faults\":...}\n"
"  --deepgram PORT     serve the Deepgram emulator on 127.0.0.1:PORT\n"
"  --openai PORT       serve the OpenAI/Groq emulator\n"
"  --cartesia PORT     serve the Cartesia emulator (speech by espeak-ng)\n"
"  --xi-api PORT       serve ElevenLabs' agent provisioning REST (tools, agents)\n"
"  --elevenlabs PORT   serve the ElevenLabs TTS emulator (stream-input and\n"
"                      multi-stream-input; not with --cartesia: one espeak-ng)\n"
"  --xi-agent PORT     serve an ElevenLabs agent's conversation websocket and its\n"
"                      signed-URL GET (--key-xi-agent: private agent, signed only)\n"
"  --xi-agent-script F the agent's turns (see emu_xi_agent.c)\n"
"  --twilio-rest PORT  serve Twilio's Calls REST (Calls.json; --twilio-sid and\n"
"                      --twilio-token: the basic auth required, else any)\n"
"  --twilio-connect-to H:P  answer each call placed and run its <Connect><Stream>\n"
"                      against H:P (`vagent-emu twilio`, the callee saying\n"
"                      --twilio-callee-wav); GET /emu/calls lists them\n"
"  --stt-final-ms MS   delay of a final transcript after the endpoint (120)\n"
"  --stt-idle-ms MS    close 1011 NET-0001 after this long without data (10000)\n"
"  --vad-rms N         RMS of a 20 ms window that counts as speech (500)\n"
"  --ttft-ms MS        time to the first token (50)\n"
"  --tokens-per-s N    token rate of streamed replies (200)\n"
"  --tts-ttfb-ms MS    first audio after a context's first transcript (40)\n"
"  --tts-rtf X         audio pacing: 0.25 sends 1 s of audio every 250 ms (0.25)\n"
"  --voice NAME        espeak-ng voice (en-gb)\n"
"  --key-SERVICE K     require the key as the real service does, else 401\n"
"  --log FILE          log here instead of stderr\n"
"  --faults SPEC       e.g. deepgram:refuse,openai:cut@5,cartesia:once:stall;\n"
"                      kinds: refuse[@STATUS] close@N cut@N stall[@N] malformed[@N],\n"
"                      prefix once: for the first connection only\n"
"\n"
"Emulator-only endpoint: GET (DELETE clears) /emu/requests on each port lists the\n"
"last 200 requests/messages received.\n");
}

enum { OPT_DG = 256, OPT_OAI, OPT_CART, OPT_STT_FINAL, OPT_STT_IDLE, OPT_VAD, OPT_TTFT,
       OPT_TPS, OPT_TTS_TTFB, OPT_TTS_RTF, OPT_VOICE, OPT_KEY_DG, OPT_KEY_OAI, OPT_KEY_CART,
       OPT_LOG, OPT_FAULTS, OPT_SCRIPT, OPT_HELP, OPT_XI_API, OPT_KEY_XI_API, OPT_XI,
       OPT_KEY_XI, OPT_XI_AGENT, OPT_KEY_XI_AGENT, OPT_XI_AGENT_SCRIPT };
enum { OPT_TW_REST = 400, OPT_TW_SID, OPT_TW_TOKEN, OPT_TW_CONNECT_TO, OPT_TW_CALLEE_WAV };

static const struct option longopts[] = {
	{ "script", required_argument, NULL, OPT_SCRIPT },
	{ "deepgram", required_argument, NULL, OPT_DG },
	{ "openai", required_argument, NULL, OPT_OAI },
	{ "cartesia", required_argument, NULL, OPT_CART },
	{ "elevenlabs", required_argument, NULL, OPT_XI },
	{ "key-elevenlabs", required_argument, NULL, OPT_KEY_XI },
	{ "stt-final-ms", required_argument, NULL, OPT_STT_FINAL },
	{ "stt-idle-ms", required_argument, NULL, OPT_STT_IDLE },
	{ "vad-rms", required_argument, NULL, OPT_VAD },
	{ "ttft-ms", required_argument, NULL, OPT_TTFT },
	{ "tokens-per-s", required_argument, NULL, OPT_TPS },
	{ "tts-ttfb-ms", required_argument, NULL, OPT_TTS_TTFB },
	{ "tts-rtf", required_argument, NULL, OPT_TTS_RTF },
	{ "voice", required_argument, NULL, OPT_VOICE },
	{ "key-deepgram", required_argument, NULL, OPT_KEY_DG },
	{ "key-openai", required_argument, NULL, OPT_KEY_OAI },
	{ "key-cartesia", required_argument, NULL, OPT_KEY_CART },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "faults", required_argument, NULL, OPT_FAULTS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "xi-api", required_argument, NULL, OPT_XI_API },
	{ "key-xi-api", required_argument, NULL, OPT_KEY_XI_API },
	{ "xi-agent", required_argument, NULL, OPT_XI_AGENT },
	{ "key-xi-agent", required_argument, NULL, OPT_KEY_XI_AGENT },
	{ "xi-agent-script", required_argument, NULL, OPT_XI_AGENT_SCRIPT },
	{ "twilio-rest", required_argument, NULL, OPT_TW_REST },
	{ "twilio-sid", required_argument, NULL, OPT_TW_SID },
	{ "twilio-token", required_argument, NULL, OPT_TW_TOKEN },
	{ "twilio-connect-to", required_argument, NULL, OPT_TW_CONNECT_TO },
	{ "twilio-callee-wav", required_argument, NULL, OPT_TW_CALLEE_WAV },
	{ NULL, 0, NULL, 0 },
};

static int num(const char *name, const char *v, int lo, int hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		fatal("vagent-emu: --%s wants an integer in %d..%d, not \"%s\"", name, lo, hi, v);
	return (int)n;
}

static double real(const char *name, const char *v, double lo, double hi)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d < lo || d > hi)
		fatal("vagent-emu: --%s wants a number in %g..%g, not \"%s\"", name, lo, hi, v);
	return d;
}

static void take_opt(struct emu_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_SCRIPT: o->script_path = arg; break;
	case OPT_DG: o->port[EMU_DG] = num("deepgram", arg, 1, 65535); break;
	case OPT_OAI: o->port[EMU_OAI] = num("openai", arg, 1, 65535); break;
	case OPT_CART: o->port[EMU_CART] = num("cartesia", arg, 1, 65535); break;
	case OPT_XI: o->port[EMU_XI] = num("elevenlabs", arg, 1, 65535); break;
	case OPT_KEY_XI: o->key[EMU_XI] = arg; break;
	case OPT_STT_FINAL: o->stt_final_ms = num("stt-final-ms", arg, 0, 60000); break;
	case OPT_STT_IDLE: o->stt_idle_ms = num("stt-idle-ms", arg, 100, 3600000); break;
	case OPT_VAD: o->vad_rms = num("vad-rms", arg, 1, 32767); break;
	case OPT_TTFT: o->ttft_ms = num("ttft-ms", arg, 0, 600000); break;
	case OPT_TPS: o->tokens_per_s = num("tokens-per-s", arg, 1, 1000000); break;
	case OPT_TTS_TTFB: o->tts_ttfb_ms = num("tts-ttfb-ms", arg, 0, 600000); break;
	case OPT_TTS_RTF: o->tts_rtf = real("tts-rtf", arg, 0.0, 100.0); break;
	case OPT_VOICE: o->voice = arg; break;
	case OPT_KEY_DG: o->key[EMU_DG] = arg; break;
	case OPT_KEY_OAI: o->key[EMU_OAI] = arg; break;
	case OPT_KEY_CART: o->key[EMU_CART] = arg; break;
	case OPT_LOG: o->log_path = arg; break;
	case OPT_FAULTS: o->faults_spec = arg; break;
	case OPT_XI_API: o->xi_api_port = num("xi-api", arg, 1, 65535); break;
	case OPT_KEY_XI_API: o->xi_api_key = arg; break;
	case OPT_XI_AGENT: o->xi_agent_port = num("xi-agent", arg, 1, 65535); break;
	case OPT_KEY_XI_AGENT: o->xi_agent_key = arg; break;
	case OPT_XI_AGENT_SCRIPT: o->xi_agent_script = arg; break;
	case OPT_TW_REST: o->twilio_rest_port = num("twilio-rest", arg, 1, 65535); break;
	case OPT_TW_SID: o->twilio_sid = arg; break;
	case OPT_TW_TOKEN: o->twilio_token = arg; break;
	case OPT_TW_CONNECT_TO: o->twilio_connect_to = arg; break;
	case OPT_TW_CALLEE_WAV: o->twilio_callee_wav = arg; break;
	case OPT_HELP: usage(stdout); exit(0);
	default: usage(stderr); exit(1);
	}
}

static void parse_args(int argc, char **argv, struct emu_opts *o)
{
	int c;

	*o = (struct emu_opts){ .stt_final_ms = 120, .stt_idle_ms = 10000, .vad_rms = 500,
				.ttft_ms = 50, .tokens_per_s = 200, .tts_ttfb_ms = 40,
				.tts_rtf = 0.25, .voice = "en-gb" };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
		take_opt(o, c, optarg);
	if (optind < argc) {
		usage(stderr);
		exit(1);
	}
	if (!o->script_path)
		fatal("vagent-emu: --script FILE is required (see --help)");
	if (!o->port[EMU_DG] && !o->port[EMU_OAI] && !o->port[EMU_CART] && !o->port[EMU_XI] &&
	    !o->xi_api_port && !o->xi_agent_port && !o->twilio_rest_port)
		fatal("vagent-emu: give at least one of --deepgram, --openai, --cartesia, "
		      "--elevenlabs, --xi-api, --xi-agent");
}

static void setup(struct emu *e)
{
	char err[256];

	if (emu_script_load(e->opt.script_path, &e->script, err, sizeof(err)))
		fatal("vagent-emu: script %s", err);
	memcpy(e->fault, e->script.fault, sizeof(e->fault));
	if (e->opt.faults_spec && emu_fault_parse(e->opt.faults_spec, e->fault, err, sizeof(err)))
		fatal("vagent-emu: --faults: %s", err);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("emu", NULL, "signal %d: exiting", (int)sig);
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct emu e;
	struct emu_ws *ws = NULL;
	struct emu_oai *oai = NULL;
	struct emu_xi_api *xi_api = NULL;
	struct emu_twilio_rest *tw_rest = NULL;
	struct event_base *base;
	struct event *sigterm, *sigint;
	char err[256];

	if (argc > 1 && !strcmp(argv[1], "twilio"))
		return emu_twilio_main(argc - 1, argv + 1);	/* a client, not a server */
	memset(&e, 0, sizeof(e));
	parse_args(argc, argv, &e.opt);
	if (log_open("vagent-emu", e.opt.log_path, false, LOG_LVL_INFO))
		fatal("vagent-emu: cannot open the log %s", e.opt.log_path);
	setup(&e);
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base)
		fatal("vagent-emu: cannot create the event loop");
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL))
		fatal("vagent-emu: cannot watch signals");
	if (e.opt.port[EMU_OAI] && emu_oai_start(&e, base, &oai, err, sizeof(err)))
		fatal("vagent-emu: %s", err);
	if (e.opt.xi_api_port && emu_xi_api_start(&e, base, &xi_api, err, sizeof(err)))
		fatal("vagent-emu: %s", err);
	if (e.opt.twilio_rest_port && emu_twilio_rest_start(&e, base, &tw_rest, err, sizeof(err)))
		fatal("vagent-emu: %s", err);
	if ((e.opt.port[EMU_DG] || e.opt.port[EMU_CART] || e.opt.port[EMU_XI] ||
	     e.opt.xi_agent_port) &&
	    emu_ws_start(&e, &ws, err, sizeof(err)))
		fatal("vagent-emu: %s", err);
	printf("vagent-emu: ready\n");
	fflush(stdout);
	log_info("emu", NULL, "ready (deepgram %d, openai %d, cartesia %d)", e.opt.port[EMU_DG],
		 e.opt.port[EMU_OAI], e.opt.port[EMU_CART]);
	event_base_dispatch(base);
	emu_ws_stop(ws);
	emu_oai_stop(oai);
	emu_xi_api_stop(xi_api);
	emu_twilio_rest_stop(tw_rest);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	emu_script_free(&e.script);
	return 0;
}

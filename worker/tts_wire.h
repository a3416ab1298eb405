/*
 * tts_wire.h - what the streaming TTS providers' wire formats share,
 * without I/O: the context ids we give replies ("<tag>-<n>", tag the
 * call's, n the playout's context number), written and read back, and a
 * provider's text message as a JSON object.
 *
 * Owns: nothing past a call; pure functions, so the unit tests and the
 * fuzz targets run the code the worker runs (tts_cart_wire.c and
 * tts_xi_wire.c read their messages through it). Safe on any thread.
 */
#ifndef VG_TTS_WIRE_H
#define VG_TTS_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Writes "<tag>-<n>" into out (len bytes, truncated if too short). */
void tts_ctx_id(const char *tag, uint32_t n, char *out, size_t len);

/* The context number of an id of ours ("<tag>-<n>", n 1..UINT32_MAX), else 0. */
uint32_t tts_ctx_of(const char *tag, const char *id);

/* One text message parsed; a new reference, or NULL for anything but a
 * JSON object. */
json_t *tts_msg_object(const char *data, size_t len);

#endif

/*
 * ws_lws.h - a libwebsockets context on the worker's libevent loop, for the
 * websocket server side only (ws_server.c: Twilio's Media Streams and
 * ConversationRelay sockets).
 *
 * Owns: one lws context and the libuv loop it runs on, embedded in the
 * worker's libevent loop. Made at first use (ws_loop_lws()): a worker that
 * never serves a Twilio call never builds either (memory: lws sizes its
 * tables at creation, libuv its loop). The provider clients do not use it
 * (ws.c speaks the protocol itself, for the syscalls lws cost).
 *
 * Threads: none of its own; everything runs on the worker's main loop.
 */
#ifndef VG_WS_LWS_H
#define VG_WS_LWS_H

struct event_base;
struct ssl_ctx_st;
struct lws_context;
struct ws_lws;

/* 0 or -ENOMEM. tls: the client context lws takes instead of building one. */
int ws_lws_new(struct ws_lws **out, struct event_base *base, struct ssl_ctx_st *tls);

/* Closes every socket of the context, calling back for them; NULL is fine. */
void ws_lws_free(struct ws_lws *e);

struct lws_context *ws_lws_context(struct ws_lws *e);

/* A watcher was changed outside a pass: have one soon (no syscall). */
void ws_lws_kick(struct ws_lws *e);

#endif

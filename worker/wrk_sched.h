/*
 * wrk_sched.h - the CPU class of a worker, whose pacer must wake every 20 ms.
 *
 * Owns: asking the kernel, once at worker start, for the best class the
 * system allows: SCHED_RR priority 1 (root, or systemd's LimitRTPRIO=1),
 * else a nice boost (CAP_SYS_NICE or LimitNICE), else nothing. On a busy
 * PBX (Asterisk on the same box, a CPU-bound neighbour) a worker of the
 * normal class waits its turn behind them and the caller hears the pacer
 * catch up in bursts; an RR worker runs the moment its timer fires.
 *
 * Must never: let a looping worker take a core from Asterisk. Before it
 * asks for RR it sets RLIMIT_RTTIME, so a worker that runs without
 * blocking for half a second gets SIGXCPU and, at one second, SIGKILL: the
 * call ends, the box goes on. (The kernel's RT throttling, 95 % of each
 * second, is the last line.)
 *
 * Opt-in ([vagentd] realtime = yes), because RR protects the pacer only
 * while the box has CPU to spare: overloaded, RR workers starve everything
 * else (200 local-engine calls on 2 cores: 195 of 800 turns answered with
 * RR workers, all 800 without, the emulators and caller starved).
 *
 * Fails: never; what it got is written to how for the log.
 */
#ifndef VG_WRK_SCHED_H
#define VG_WRK_SCHED_H

#include <stdbool.h>
#include <stddef.h>

/* realtime: [vagentd] realtime. how: "SCHED_RR 1", "nice -5" or "normal (...)". */
void wrk_sched_raise(bool realtime, char *how, size_t len);

#endif

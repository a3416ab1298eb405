/*
 * ctl_live.h - vagentctl's live views of calls in progress: listen (a
 * call's audio, from its rings) and top (calls, stages, latencies).
 *
 * Both read the segment that vagentctl mapped read-only and never write
 * it: the calls they watch cannot tell they are there. argv[0] is the
 * command's word; the return value is vagentctl's exit status (0, 1
 * failed, 2 usage).
 */
#ifndef VG_CTL_LIVE_H
#define VG_CTL_LIVE_H

#include "../../ipc/shm.h"

int ctl_listen(const struct shm_map *m, int argc, char **argv);
int ctl_top(const struct shm_map *m, int argc, char **argv);

#endif

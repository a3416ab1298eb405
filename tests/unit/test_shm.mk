UNIT_SRC_shm := ipc/shm.c ipc/ring.c ipc/recq.c ipc/bell.c ipc/hist.c

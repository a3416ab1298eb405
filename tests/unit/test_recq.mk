UNIT_SRC_recq := ipc/recq.c

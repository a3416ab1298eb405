UNIT_SRC_playout := worker/playout.c common/buf.c

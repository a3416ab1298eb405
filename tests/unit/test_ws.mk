UNIT_SRC_ws := worker/ws.c common/log.c

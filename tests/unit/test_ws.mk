UNIT_SRC_ws := worker/ws.c common/buf.c common/log.c

UNIT_SRC_ws := worker/ws.c worker/ws_dns.c common/buf.c common/log.c

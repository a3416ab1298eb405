UNIT_SRC_ws := worker/ws.c worker/ws_peer.c worker/ws_dns.c worker/ws_frame.c worker/ws_handshake.c worker/ws_io.c \
               common/buf.c common/log.c common/base64.c

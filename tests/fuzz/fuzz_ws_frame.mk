FUZZ_SRC_ws_frame := worker/ws_frame.c worker/ws_handshake.c common/buf.c common/base64.c

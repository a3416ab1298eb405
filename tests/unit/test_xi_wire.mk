UNIT_SRC_xi_wire := worker/tts_xi_wire.c worker/tts_wire.c common/base64.c common/ulaw.c

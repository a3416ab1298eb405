FUZZ_SRC_tts_xi := worker/tts_xi_wire.c worker/tts_wire.c common/base64.c common/ulaw.c

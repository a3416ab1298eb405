FUZZ_SRC_cartesia := worker/tts_cart_wire.c worker/json_plain.c worker/tts_wire.c worker/playout.c ipc/ring.c common/base64.c \
                     common/buf.c

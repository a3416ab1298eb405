UNIT_SRC_cart_wire := worker/tts_cart_wire.c worker/json_plain.c worker/tts_wire.c common/base64.c

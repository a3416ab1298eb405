FUZZ_SRC_twilio_ms := worker/twilio_ms_wire.c worker/json_plain.c common/base64.c

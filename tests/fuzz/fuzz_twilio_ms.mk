FUZZ_SRC_twilio_ms := worker/twilio_ms_wire.c common/base64.c

UNIT_SRC_twilio_wire := worker/twilio_ms_wire.c common/base64.c common/ulaw.c

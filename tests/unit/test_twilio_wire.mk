UNIT_SRC_twilio_wire := worker/twilio_ms_wire.c worker/json_plain.c common/base64.c common/ulaw.c

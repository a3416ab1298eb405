UNIT_SRC_twilio_relay_wire := worker/twilio_relay_wire.c

FUZZ_SRC_twilio_relay := worker/twilio_relay_wire.c

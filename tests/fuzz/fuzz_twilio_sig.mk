FUZZ_SRC_twilio_sig := common/twilio_sig.c common/base64.c common/buf.c

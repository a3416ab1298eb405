UNIT_SRC_twiml := common/twiml.c common/buf.c

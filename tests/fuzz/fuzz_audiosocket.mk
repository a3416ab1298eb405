FUZZ_SRC_audiosocket := common/audiosocket.c

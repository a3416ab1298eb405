FUZZ_SRC_conf := common/conf.c common/log.c common/wav.c common/audio.c

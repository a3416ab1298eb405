FUZZ_SRC_conf := $(CONF_SRC) common/log.c common/wav.c common/audio.c

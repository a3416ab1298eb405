FUZZ_SRC_deepgram := worker/stt_dg_wire.c

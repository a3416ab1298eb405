UNIT_SRC_sse := worker/sse.c

UNIT_SRC_dg_wire := worker/stt_dg_wire.c

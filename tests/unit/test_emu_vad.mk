UNIT_SRC_emu_vad := tests/emu/emu_dg_vad.c tests/emu/emu_util.c

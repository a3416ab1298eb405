UNIT_SRC_pacer := worker/pace_clock.c

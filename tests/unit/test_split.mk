UNIT_SRC_split := supervisor/ctl_split.c

UNIT_SRC_split := supervisor/ctl/ctl_split.c

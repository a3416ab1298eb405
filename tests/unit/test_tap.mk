UNIT_SRC_tap := supervisor/ctl/ctl_tap.c ipc/ring.c common/wav.c

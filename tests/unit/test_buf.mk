UNIT_SRC_buf := common/buf.c

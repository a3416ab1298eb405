UNIT_SRC_file_replace := common/file_replace.c

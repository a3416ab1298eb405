UNIT_SRC_record := common/record.c

UNIT_SRC_record := common/booking/record.c

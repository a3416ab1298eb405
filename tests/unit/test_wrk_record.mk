UNIT_SRC_wrk_record := worker/wrk_record.c common/wav.c common/log.c

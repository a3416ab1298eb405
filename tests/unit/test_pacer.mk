UNIT_SRC_pacer := worker/wrk_pacer.c common/log.c

FUZZ_SRC_record := ipc/recq.c common/booking/record.c

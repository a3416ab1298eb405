FUZZ_SRC_record := ipc/recq.c common/record.c

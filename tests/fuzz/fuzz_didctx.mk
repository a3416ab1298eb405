FUZZ_SRC_didctx := supervisor/api_req.c common/booking.c common/rec_put.c common/record.c \
                   ipc/recq.c ipc/bell.c

FUZZ_SRC_didctx := supervisor/api/api_req.c common/booking/booking.c common/booking/rec_put.c common/booking/record.c \
                   ipc/recq.c ipc/bell.c

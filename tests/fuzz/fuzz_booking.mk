FUZZ_SRC_booking := supervisor/api/api_req.c common/booking/booking.c common/booking/rec_put.c common/booking/record.c \
                    ipc/recq.c ipc/bell.c

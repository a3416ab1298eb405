UNIT_SRC_booking := common/booking/booking.c common/booking/rec_put.c common/booking/record.c ipc/recq.c ipc/bell.c

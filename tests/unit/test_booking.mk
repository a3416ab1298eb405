UNIT_SRC_booking := common/booking.c common/rec_put.c common/record.c ipc/recq.c ipc/bell.c

/*
 * rec_put.h - handing a durable record to the booking-writer.
 *
 * Owns: the producer's side in one call: check and encode the fields
 * (record.h), append to the producer's own queue (recq.h), ring the
 * writer's doorbell (bell.h). It never waits for the disk or the database;
 * a producer that must know its record is safe polls recq_state().
 */
#ifndef VG_REC_PUT_H
#define VG_REC_PUT_H

#include <stddef.h>
#include <stdint.h>

#include "../../ipc/bell.h"
#include "../../ipc/recq.h"
#include "record.h"

/*
 * Enqueues one record. 0 with *seq set; -EINVAL (a field breaks its
 * limits: err names it); -ENOBUFS (the queue is full: the writer is down
 * or far behind); -EMSGSIZE; -EPROTO (the queue's own header is damaged:
 * the writer condemns it and the supervisor resets it); -ENOMEM.
 */
int rec_put(struct recq *q, struct bell *b, uint8_t type, const struct rec_val *vals,
	    uint64_t *seq, char *err, size_t errlen);

/*
 * A new booking reference: 10 characters of Crockford base32 (no I, L, O,
 * U: nothing to mishear on the phone), from the kernel's random source.
 * out holds at least 11 bytes. 0 or -errno.
 */
int booking_ref_new(char *out, size_t len);

/*
 * The booking reference for a client's idempotency key: the same key
 * always gives the same reference (64-bit FNV-1a, 50 bits kept), so a
 * retried request lands on the same row. out holds at least 11 bytes.
 */
void booking_ref_for_key(const char *key, char *out, size_t len);

#endif

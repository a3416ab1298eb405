/*
 * crc32.h - CRC-32 (IEEE 802.3, as zlib's crc32), for journal records.
 */
#ifndef VG_CRC32_H
#define VG_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over buf; start with crc = 0. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

#endif

/*
 * crc32.c - CRC-32, bit by bit. No table: the journal checksums each record
 * once on the way to an fsync that costs a thousand times more.
 */
#include "crc32.h"

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

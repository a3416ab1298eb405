UNIT_SRC_journal := supervisor/bw_journal.c supervisor/bw_jscan.c common/crc32.c common/base64.c common/log.c

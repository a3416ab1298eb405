FUZZ_SRC_journal := supervisor/bw_jscan.c supervisor/bw_journal.c common/crc32.c common/base64.c common/log.c

UNIT_SRC_journal := supervisor/writer/bw_journal.c supervisor/writer/bw_jscan.c common/crc32.c common/base64.c common/file_replace.c common/log.c

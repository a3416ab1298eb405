UNIT_SRC_tls_client := worker/tls_client.c

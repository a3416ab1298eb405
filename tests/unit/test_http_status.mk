UNIT_SRC_http_status := worker/http_status.c

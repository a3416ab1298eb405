UNIT_SRC_breaker := worker/breaker.c worker/resample.c

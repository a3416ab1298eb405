UNIT_SRC_llm_stream := worker/sse.c worker/llm_oai_stream.c

FUZZ_SRC_sse := worker/sse.c worker/llm_oai_stream.c

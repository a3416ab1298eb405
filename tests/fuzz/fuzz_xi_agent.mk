FUZZ_SRC_xi_agent := worker/xi_agent_wire.c common/base64.c

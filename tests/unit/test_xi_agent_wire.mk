UNIT_SRC_xi_agent_wire := worker/xi_agent_wire.c worker/xi_agent_audio.c common/base64.c common/buf.c common/ulaw.c

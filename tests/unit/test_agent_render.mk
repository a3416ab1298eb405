UNIT_SRC_agent_render := worker/agent_render.c common/buf.c

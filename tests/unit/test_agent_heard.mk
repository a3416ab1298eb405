UNIT_SRC_agent_heard := worker/agent_heard.c

UNIT_SRC_xi_json := supervisor/ctl/ctl_xi_json.c

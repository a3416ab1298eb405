/*
 * engine.c - the engine registry.
 */
#include "engine.h"

#include <string.h>

static const struct engine_ops *const engines[] = {
	&engine_echo,
	&engine_playback,
	&engine_local,
	&engine_elevenlabs,
};

const struct engine_ops *engine_find(const char *name)
{
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (!strcmp(engines[i]->name, name))
			return engines[i];
	return NULL;
}

bool engine_known(const char *name)
{
	return engine_find(name) != NULL;
}

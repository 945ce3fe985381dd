/* Small helpers over libyaml's document API, shared by the three YAML
 * readers (config.c, kubeconfig.c, static_pods.c). Each reader keeps its own
 * error messages; these only find and describe nodes. */
#ifndef CRISP_YAML_NODES_H
#define CRISP_YAML_NODES_H

#include <stdbool.h>
#include <yaml.h>

/* For __attribute__((cleanup)): deletes the document a pointer points at. */
void crisp_yaml_document_freep(yaml_document_t **d);
#define _cleanup_yaml_document_ __attribute__((cleanup(crisp_yaml_document_freep)))

/* The node's line in the file, from 1. */
unsigned long crisp_yaml_line(const yaml_node_t *n);

/* "a scalar", "a list", "a mapping" or "nothing", for error messages. */
const char *crisp_yaml_type_name(const yaml_node_t *n);

/* True for no node, and for the plain scalars Go's YAML reads as null:
 * "", "~", "null", "Null", "NULL". */
bool crisp_yaml_is_null(const yaml_node_t *n);

/* Looks `key` up in the mapping `map` (which must be a mapping node).
 * *value is its value node, or NULL when the key is absent or its value is
 * null. Returns false when the key is given more than once; *twice is then
 * the second key node (for the error's line). */
bool crisp_yaml_mapping_get(yaml_document_t *doc, const yaml_node_t *map, const char *key,
                            yaml_node_t **value, const yaml_node_t **twice);

#endif

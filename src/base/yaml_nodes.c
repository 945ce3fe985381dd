/* Helpers over libyaml's document API shared by the YAML readers: find and
 * describe nodes (yaml_nodes.h). */
#include "base/yaml_nodes.h"

#include <string.h>

void crisp_yaml_document_freep(yaml_document_t **d)
{
        if (*d)
                yaml_document_delete(*d);
}

unsigned long crisp_yaml_line(const yaml_node_t *n)
{
        return (unsigned long)n->start_mark.line + 1;
}

const char *crisp_yaml_type_name(const yaml_node_t *n)
{
        switch (n->type) {
        case YAML_SCALAR_NODE:
                return "a scalar";
        case YAML_SEQUENCE_NODE:
                return "a list";
        case YAML_MAPPING_NODE:
                return "a mapping";
        default:
                return "nothing";
        }
}

bool crisp_yaml_is_null(const yaml_node_t *n)
{
        if (n == NULL)
                return true;
        if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        const char *s = (const char *)n->data.scalar.value;
        return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
               strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

bool crisp_yaml_mapping_get(yaml_document_t *doc, const yaml_node_t *map, const char *key,
                            yaml_node_t **value, const yaml_node_t **twice)
{
        bool seen = false;
        *value = NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                yaml_node_t *k = yaml_document_get_node(doc, p->key);
                if (k->type != YAML_SCALAR_NODE ||
                    strcmp((const char *)k->data.scalar.value, key) != 0)
                        continue;
                if (seen) {
                        *twice = k;
                        return false;
                }
                seen = true;
                yaml_node_t *v = yaml_document_get_node(doc, p->value);
                *value = crisp_yaml_is_null(v) ? NULL : v;
        }
        return true;
}

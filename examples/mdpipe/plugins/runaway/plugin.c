/*
 * mdpipe's `runaway` step, in C: meant to squeeze repeated blank lines, but its loop never
 * advances (the bug is left in on purpose). The host's fuel budget and deadline stop it; the
 * rest of the pipeline goes on.
 */
#include <stdlib.h>
#include <string.h>

#include "transformer.h"

bool exports_mdpipe_plugin_step_transform(transformer_string_t *document,
                                          transformer_string_t *ret,
                                          transformer_string_t *err) {
    (void)err;
    size_t i = 0;
    volatile size_t squeezed = 0;
    while (i < document->len) {
        if (document->ptr[i] == '\n' && i + 1 < document->len && document->ptr[i + 1] == '\n') {
            squeezed++;
            continue; /* the bug: i never moves past a blank line */
        }
        i++;
    }
    ret->len = document->len;
    ret->ptr = malloc(ret->len);
    memcpy(ret->ptr, document->ptr, document->len);
    transformer_string_free(document);
    return true;
}

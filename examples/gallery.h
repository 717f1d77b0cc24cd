/* `make gallery` (scripts/gallery.sh): with RNN_GALLERY set to a folder, a scenario example
 * draws its model there with rnn_explain - NAME.svg and NAME.html - and stops before training.
 * Without it, gallery() does nothing and returns 0. */
#ifndef RNN_EXAMPLES_GALLERY_H
#define RNN_EXAMPLES_GALLERY_H

#include <stdio.h>
#include <stdlib.h>
#include <rnn.h>

static int gallery(rnn_model *m, const char *name) {
    const char *dir = getenv("RNN_GALLERY");
    if (!dir || !*dir) return 0;
    const char *ext[2] = {"svg", "html"};
    for (int k = 0; k < 2; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext[k]);
        if (rnn_explain(m, NULL, path)) {
            fprintf(stderr, "%s: %s\n", path, rnn_model_error(m));
            exit(1);
        }
    }
    return 1;
}

#endif

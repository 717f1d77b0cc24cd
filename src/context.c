/* rnn_context and rnn_set_threads (context.h, rnn.h). */
#include "context.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "error.h"
#include "model.h"

struct rnn_context {
    rnn__team *team;
    atomic_int refs; /* the creator's, plus one per model attached */
};

rnn_context *rnn_context_new(int threads) {
    if (threads < 0) {
        rnn__fail(RNN_ERR_ARGUMENT, "rnn_context_new: threads must be >= 0, got %d", threads);
        return NULL;
    }
    rnn_context *ctx = calloc(1, sizeof *ctx);
    if (ctx) ctx->team = rnn__team_new(threads);
    if (!ctx || !ctx->team) {
        free(ctx);
        rnn__fail(RNN_ERR_MEMORY, "rnn_context_new: out of memory");
        return NULL;
    }
    atomic_init(&ctx->refs, 1);
    return ctx;
}

void rnn__context_release(rnn_context *ctx) {
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    rnn__team_free(ctx->team);
    free(ctx);
}

void rnn_context_free(rnn_context *ctx) { rnn__context_release(ctx); }

rnn__team *rnn__context_team(const rnn_context *ctx) { return ctx ? ctx->team : NULL; }

rnn_status rnn_context_set_threads(rnn_context *ctx, int threads) {
    if (!ctx) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_context_set_threads: context is NULL");
    if (threads < 0)
        return rnn__fail(RNN_ERR_ARGUMENT, "threads must be >= 0, got %d", threads);
    rnn__team_resize(ctx->team, threads);
    return RNN_OK;
}

int rnn_context_threads(const rnn_context *ctx) {
    return rnn__team_size_of(ctx ? ctx->team : rnn__team_default());
}

rnn_status rnn_model_set_context(rnn_model *model, rnn_context *ctx) {
    if (!model) return rnn__fail(RNN_ERR_ARGUMENT, "rnn_model_set_context: model is NULL");
    if (ctx) atomic_fetch_add(&ctx->refs, 1);
    rnn__context_release(model->context);
    model->context = ctx;
    return RNN_OK;
}

rnn_status rnn_set_threads(int threads) {
    if (threads < 0) return rnn__fail(RNN_ERR_ARGUMENT, "threads must be >= 0, got %d", threads);
    rnn__team *team = rnn__team_default();
    if (!team) return rnn__fail(RNN_ERR_MEMORY, "rnn_set_threads: out of memory");
    rnn__team_resize(team, threads);
    return RNN_OK;
}

/* SimpleRNN (Keras SimpleRNNCell): h_t = phi(x_t W + b + h_{t-1} U), phi = activation (tanh). */
#include <string.h>

#include "kernels/activations.h"
#include "kernels/gemm.h"
#include "layers/recurrent.h"

static void simple_forward_steps(rnn_recurrent *r, int B, int T) {
    const int H = (int)r->H;
    const rnn_activation act = r->opt.activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    for (int t = 0; t < T; t++) {
        float *z = r->xw + (size_t)t * BH;
        float *h = r->hs + (size_t)(t + 1) * BH;
        if (r->plan.qseq)
            rnn__qgemm(&r->qw[RNN_W_RECURRENT], B, 0, H, rnn__rec_in(r, t), H, z, H, z, H,
                       RNN_GEMM_AUTO);
        else
            rnn__product(B, H, H, rnn__rec_in(r, t), H, U, H, z, H, RNN_GEMM(.beta = 1.0f));
        memcpy(h, z, sizeof(float) * BH);
        rnn__act_vec(act, h, (long)BH);
        if (r->mask) /* masked rows keep their state */
            for (int b = 0; b < B; b++)
                if (r->mask[(size_t)t * B + b] == 0.0f)
                    memcpy(h + (size_t)b * H, r->hs + (size_t)t * BH + (size_t)b * H, sizeof(float) * H);
        rnn__recurrent_mask_state(r, t + 1);
    }
}

/* dZ_t = (dh_t) phi'(h_t);  dh_{t-1} = dZ_t U^T;  dU = sum_t h_{t-1}^T dZ_t. */
static void simple_backward_steps(rnn_recurrent *r, int B, int T, const rnn_seq_grad *dhseq) {
    const int H = (int)r->H;
    const rnn_activation act = r->opt.activation;
    const float *U = rnn__recurrent_value(r, RNN_W_RECURRENT);
    const size_t BH = (size_t)B * H;
    float *dh = r->dh;
    for (int t = T - 1; t >= 0; t--) {
        float *z = r->xw + (size_t)t * BH;
        const float *h = r->hs + (size_t)(t + 1) * BH;
        rnn__recurrent_add_seq_grad(dhseq, t, dh, H, 0, B, 0, H);
        for (size_t k = 0; k < BH; k++) z[k] = dh[k] * rnn__act_grad(act, h[k]);
        int masked_rows = 0;
        if (r->mask)
            for (int b = 0; b < B; b++)
                if (r->mask[(size_t)t * B + b] == 0.0f) { /* h_t = h_{t-1}: pass dh through */
                    memset(z + (size_t)b * H, 0, sizeof(float) * H);
                    memcpy(r->dh_keep + (size_t)b * H, dh + (size_t)b * H, sizeof(float) * H);
                    masked_rows = 1;
                }
        rnn__product(B, H, H, z, H, U, H, dh, H, RNN_GEMM(.trans_b = 1));
        rnn__recurrent_finish_state_grad(r, dh, t, masked_rows);
    }
    rnn__product(H, H, T * B, rnn__rec_in(r, 0), H, r->xw, H,
                 rnn__recurrent_grad(r, RNN_W_RECURRENT), H,
                 RNN_GEMM(.trans_a = 1, .beta = 1.0f));
}

static const rnn_cell_ops simple_cell = {RNN_CELL_SIMPLE, 1, 1, simple_forward_steps,
                                         simple_backward_steps, NULL};

static const rnn_layer_ops simple_rnn_ops = RNN_RECURRENT_LAYER_OPS("SimpleRNN", "simple_rnn");

rnn_recurrent_options rnn_simple_rnn_defaults(int units) {
    return rnn__recurrent_defaults(units);
}

rnn_layer *rnn_simple_rnn(const rnn_recurrent_options *options) {
    return rnn__recurrent_new(&simple_rnn_ops, &simple_cell, options);
}

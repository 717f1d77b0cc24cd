/* Fused recurrent cell passes for the default activations (sigmoid gates, tanh candidate and
 * output): one pass over each batch row does every element-wise operation of a step, 8 units at
 * a time, instead of one array pass per activation and per product. The layers call these when
 * recurrent_activation is sigmoid, activation is tanh and no mask is involved (where stated),
 * and keep their general loops for everything else. Same formulas, same evaluation order and the
 * same vectorised sigmoid/tanh (vmath8.h, the same variant as rnn__act_vec picks: FMA or
 * portable) as those loops: the results are the same bits on any one machine.
 * Each pass covers the units [j0, j1) of every row (0, H: all of them), so that threads can
 * split a step by units. */
#ifndef RNN_GATES_H
#define RNN_GATES_H

/* LSTM forward, B rows. z (B, 4H): pre-activations [z_i z_f z_c z_o] on entry, activations
 * [i f g o] on return; c_prev (B, H); writes c (B, H), tc = tanh(c) (B, H), h = o * tc (B, H).
 *   c = f * c_prev + i * g */
#include <stddef.h>

void rnn__lstm_gates_forward(float *z, const float *c_prev, float *c, float *tc, float *h, int B,
                             int H, int j0, int j1);

/* LSTM backward, B rows without masked steps. z (B, 4H) activations [i f g o] -> dZ; tc, c_prev
 * (B, H); dh (B, H) the gradient reaching h_t; dc (B, H) reaching c_t on entry, c_{t-1} on return.
 *   dc_t = dc + dh * o * (1 - tc^2);  dZ = [dc_t g i(1-i), dc_t c_prev f(1-f), dc_t i (1-g^2),
 *   dh tc o(1-o)];  dc = dc_t f */
void rnn__lstm_gates_backward(float *z, const float *tc, const float *c_prev, const float *dh,
                              float *dc, int B, int H, int j0, int j1);
/* The same with the step's output gradient dy (row b at dy + b dy_row, units j0..j1 at their
 * own index; NULL: none) added to dh as each value is read, dh + dy, instead of in a pass that
 * writes dh first (rnn__recurrent_add_seq_grad): the same sum, so the same bits; dh itself is
 * left as it was. */
void rnn__lstm_gates_backward_dy(float *z, const float *tc, const float *c_prev, const float *dh,
                                 const float *dy, size_t dy_row, float *dc, int B, int H, int j0,
                                 int j1);

/* GRU reset_after forward, B rows. x (B, 3H): x W + b_x on entry, [z r hh] on return; g (B, 3H)
 * h_{t-1} U + b_h; h_prev (B, H); writes h (B, H) and aux = g_h (B, H).
 *   z, r = sigmoid(x_zr + g_zr);  hh = tanh(x_h + r * g_h);  h = z * h_prev + (1 - z) * hh */
void rnn__gru_gates_forward(float *x, const float *g, const float *h_prev, float *h, float *aux,
                            int B, int H, int j0, int j1);

/* GRU reset_after backward, B rows without masked steps. x (B, 3H) [z r hh] -> dZ =
 * [dz s'(z), dr s'(r), da_h]; aux (B, H) g_h -> dg_h = da_h r; g (B, 3H) <- [dz s'(z), dr s'(r),
 * dg_h] (the rows the recurrent kernel's gradient and dh_{t-1} need); h_prev (B, H); dh (B, H)
 * the gradient reaching h_t -> its part through z (dh z).
 *   dz = dh (h_prev - hh);  da_h = dh (1 - z)(1 - hh^2);  dr = da_h g_h r(1 - r) */
void rnn__gru_gates_backward(float *x, float *g, float *aux, const float *h_prev, float *dh,
                             int B, int H, int j0, int j1);

#endif

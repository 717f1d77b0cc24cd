/* Sampling an index from a probability vector with a temperature (text generation). */
#include <math.h>

#include "rnn.h"

/* splitmix64 on the caller's state: small, fast and good enough for sampling. */
static double next_uniform(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

int rnn_sample(const float *p, int n, float temperature, uint64_t *state) {
    if (!p || n <= 0 || !state || !(temperature >= 0.0f)) return -1;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[best]) best = i;
    if (temperature < 1e-6f) return best;
    /* p_i^(1/T) / sum, computed as exp(log(p_i)/T - max) for stability */
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < n; i++)
        if (p[i] > 0) mx = fmax(mx, log(p[i]) / temperature);
    if (!isfinite(mx)) return best;
    for (int i = 0; i < n; i++) sum += p[i] > 0 ? exp(log(p[i]) / temperature - mx) : 0.0;
    double u = next_uniform(state) * sum, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += p[i] > 0 ? exp(log(p[i]) / temperature - mx) : 0.0;
        if (u < acc) return i;
    }
    return best;
}

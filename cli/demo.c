#include "demo.h"

#include "args.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "airline_data.h"
#include "plot_svg.h"
#include "rnn.h"

demo_options demo_defaults(void) {
    demo_options o = {DEMO_WINDOW, 7, 100, 3, 1, "forecast.svg", NULL};
    return o;
}

static const char *variant_name(demo_variant v) {
    return v == DEMO_STATEFUL ? "stateful" : v == DEMO_STACKED ? "stacked stateful" : "window";
}

/* The tutorial's three models. Stateful ones have a fixed batch of 1, as in the tutorial. */
static rnn_model *build_model(const demo_options *o) {
    rnn_model *m = rnn_sequential(NULL);
    if (!m) return NULL;
    rnn_status st = rnn_set_seed(m, o->seed);
    rnn_recurrent_options lstm = rnn_lstm_defaults(4);
    if (o->variant == DEMO_WINDOW) {
        if (!st) st = rnn_input(m, o->look_back, 1);
        if (!st) st = rnn_add(m, rnn_lstm(&lstm));
    } else {
        lstm.stateful = 1;
        if (!st) st = rnn_batch_input(m, 1, o->look_back, 1);
        if (o->variant == DEMO_STACKED) {
            rnn_recurrent_options first = lstm;
            first.return_sequences = 1;
            if (!st) st = rnn_add(m, rnn_lstm(&first));
        }
        if (!st) st = rnn_add(m, rnn_lstm(&lstm));
    }
    if (!st) st = rnn_add(m, rnn_dense_simple(1, RNN_LINEAR));
    if (!st) st = rnn_compile(m, "mean_squared_error", "adam");
    if (st) {
        fprintf(stderr, "rnn demo: %s\n", rnn_last_error());
        rnn_model_free(m);
        return NULL;
    }
    return m;
}

static double rmse(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (double)n);
}

static int train(rnn_model *m, const demo_options *o, rnn_tensor x, rnn_tensor y, FILE *out) {
    rnn_fit_options fit = rnn_fit_defaults();
    fit.batch_size = 1;
    fit.verbose = o->verbose;
    fit.out = out;
    if (o->variant == DEMO_WINDOW) {
        fit.epochs = o->epochs;
        return rnn_fit(m, rnn_data_xy(x, y), &fit, NULL) == RNN_OK ? 0 : -1;
    }
    /* The tutorial's stateful loop: one epoch at a time, in order, state reset in between. */
    fit.epochs = 1;
    fit.shuffle = 0;
    for (int e = 0; e < o->epochs; e++) {
        if (o->verbose) fprintf(out, "Epoch %d/%d\n", e + 1, o->epochs);
        if (rnn_fit(m, rnn_data_xy(x, y), &fit, NULL) != RNN_OK) return -1;
        rnn_reset_states(m);
    }
    return 0;
}

int demo_run(const demo_options *o, demo_result *result) {
    FILE *out = o->out ? o->out : stdout;
    const int64_t n = AIRLINE_MONTHS;
    float series[AIRLINE_MONTHS];
    memcpy(series, airline_passengers, sizeof series);

    rnn_minmax_scaler scaler = {0};
    rnn_tensor train_x = {0}, train_y = {0}, test_x = {0}, test_y = {0};
    rnn_tensor train_pred = {0}, test_pred = {0};
    rnn_model *m = NULL;
    int rc = -1;
    int64_t split = rnn_train_test_split(n, 0.67);
    if (split < 0 || rnn_minmax_fit(&scaler, series, n) != RNN_OK) goto done;
    rnn_minmax_transform(&scaler, series, n);
    if (rnn_create_dataset(series, split, o->look_back, &train_x, &train_y) != RNN_OK ||
        rnn_create_dataset(series + split, n - split, o->look_back, &test_x, &test_y) != RNN_OK)
        goto done;
    fprintf(out, "Airline passengers, %s LSTM: %lld months, %lld train windows, %lld test windows, "
            "look_back=%d, seed %llu\n", variant_name(o->variant), (long long)n,
            (long long)train_x.shape[0], (long long)test_x.shape[0], o->look_back,
            (unsigned long long)o->seed);
    if (!(m = build_model(o))) goto done;
    if (o->verbose) rnn_summary(m, out);
    if (train(m, o, train_x, train_y, out) != 0) goto done;

    int batch = o->variant == DEMO_WINDOW ? 32 : 1;
    if (rnn_predict(m, rnn_data_x(train_x), batch, &train_pred, 1) != RNN_OK) goto done;
    rnn_reset_states(m);
    if (rnn_predict(m, rnn_data_x(test_x), batch, &test_pred, 1) != RNN_OK) goto done;
    rnn_reset_states(m);

    /* Back to passengers (thousands) before measuring, as the tutorial does. */
    int64_t ntr = train_x.shape[0], nte = test_x.shape[0];
    rnn_minmax_inverse(&scaler, train_pred.data, ntr);
    rnn_minmax_inverse(&scaler, test_pred.data, nte);
    rnn_minmax_inverse(&scaler, train_y.data, ntr);
    rnn_minmax_inverse(&scaler, test_y.data, nte);
    result->train_rmse = rmse(train_pred.data, train_y.data, ntr);
    result->test_rmse = rmse(test_pred.data, test_y.data, nte);
    result->train_samples = ntr;
    result->test_samples = nte;
    fprintf(out, "train RMSE: %.2f\n", result->train_rmse);
    fprintf(out, "test RMSE: %.2f\n", result->test_rmse);

    if (o->plot) {
        /* The tutorial's figure: predictions shifted by look_back after each window. */
        plot_series s[3] = {
            {"passengers", NULL, airline_passengers, n, 0},
            {"train prediction", NULL, train_pred.data, ntr, o->look_back},
            {"test prediction", NULL, test_pred.data, nte, ntr + 2 * o->look_back + 1},
        };
        char title[96];
        snprintf(title, sizeof title, "Airline passengers (thousands), %s LSTM",
                 variant_name(o->variant));
        if (plot_svg_write(o->plot, title, s, 3) != 0) {
            fprintf(stderr, "rnn demo: could not write the plot: %s\n", plot_svg_error());
            goto done;
        }
        fprintf(out, "plot written to %s\n", o->plot);
    }
    rc = 0;
done:
    if (rc != 0 && rnn_last_error()[0]) fprintf(stderr, "rnn demo: %s\n", rnn_last_error());
    rnn_model_free(m);
    rnn_tensor_free(&train_x);
    rnn_tensor_free(&train_y);
    rnn_tensor_free(&test_x);
    rnn_tensor_free(&test_y);
    rnn_tensor_free(&train_pred);
    rnn_tensor_free(&test_pred);
    return rc;
}

int demo_parse(int argc, char **argv, demo_options *out) {
    demo_options o = demo_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        if (!strcmp(a, "--stateful")) o.variant = DEMO_STATEFUL;
        else if (!strcmp(a, "--stacked")) o.variant = DEMO_STACKED;
        else if (!strcmp(a, "--quiet")) o.verbose = 0;
        else if (!strcmp(a, "--no-plot")) o.plot = NULL;
        else if ((!strcmp(a, "--seed") || !strcmp(a, "--epochs") || !strcmp(a, "--verbose") ||
                  !strcmp(a, "--plot")) && i + 1 < argc) {
            const char *val = argv[++i];
            if (!strcmp(a, "--plot")) { o.plot = val; continue; }
            long hi = !strcmp(a, "--seed") ? 2147483647L : !strcmp(a, "--epochs") ? 100000 : 2;
            if (cli_parse_int(val, 0, hi, &v) != 0) {
                fprintf(stderr, "rnn demo: %s takes an integer from 0 to %ld, got \"%s\"\n", a, hi, val);
                return 2;
            }
            if (!strcmp(a, "--seed")) o.seed = (uint64_t)v;
            else if (!strcmp(a, "--epochs")) o.epochs = (int)v;
            else o.verbose = (int)v;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: rnn demo [--stateful | --stacked] [--seed N] [--epochs N]\n"
                   "                [--verbose 0|1|2] [--quiet] [--plot FILE.svg | --no-plot]\n"
                   "Trains the airline-passengers LSTM forecaster (look_back=3, LSTM(4), Dense(1),\n"
                   "Adam, MSE, batch size 1) and prints train and test RMSE in passengers.\n");
            return 0;
        } else {
            fprintf(stderr, "rnn demo: unknown or incomplete option \"%s\" (see rnn demo --help)\n", a);
            return 2;
        }
    }
    *out = o;
    return -1;
}

int demo_main(int argc, char **argv) {
    demo_options o;
    int parsed = demo_parse(argc, argv, &o);
    if (parsed >= 0) return parsed;
    demo_result r;
    return demo_run(&o, &r) == 0 ? 0 : 1;
}

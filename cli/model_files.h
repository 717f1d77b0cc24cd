/* `rnn summary`, `predict`, `fit` and `convert`: Keras model files from the command line. */
#ifndef RNN_CLI_MODEL_FILES_H
#define RNN_CLI_MODEL_FILES_H

/* rnn summary MODEL */
int summary_main(int argc, char **argv);
/* rnn predict MODEL --input x.npy --output y.npy [--batch-size N] */
int predict_main(int argc, char **argv);
/* rnn fit MODEL --x X.npy --y Y.npy --output OUT [--epochs N] [--batch-size N] ... */
int fit_main(int argc, char **argv);
/* rnn convert IN OUT (.keras <-> .h5, by the extensions) */
int convert_main(int argc, char **argv);

#endif

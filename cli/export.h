/* `rnn export` and `rnn quantize-report`. */
#ifndef RNN_CLI_EXPORT_H
#define RNN_CLI_EXPORT_H

/* rnn export MODEL --c DIR [--name NAME] [--precision f32|bf16|int8] */
int export_main(int argc, char **argv);
/* rnn quantize-report MODEL --input x.npy [--target y.npy] */
int quantize_report_main(int argc, char **argv);

#endif

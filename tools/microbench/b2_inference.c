/* B2 inference alone: rnn_predict at batch 256 over 10,240 samples (T=50, F=8, LSTM(64) ->
 * Dense(1)), eight times; argument 1: threads.
 * Build (from the repository root, after make):
 *   cc -O2 -Iinclude tools/microbench/b2_inference.c build/librnn.a -o /tmp/b2_inference -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Numbers from this program are quoted in bench/README.md ("One thread pool"). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "rnn.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc,char**argv){ int th=argc>1?atoi(argv[1]):2; int bs=argc>2?atoi(argv[2]):256; rnn_set_threads(th);
 int N=10240,T=50,F=8; float*x=malloc(4L*N*T*F); for(long i=0;i<(long)N*T*F;i++)x[i]=(float)((i*2654435761u)%1000)/1000.0f;
 rnn_model*m=rnn_sequential(NULL); rnn_set_seed(m,2); rnn_input(m,T,F); rnn_recurrent_options o=rnn_lstm_defaults(64); rnn_add(m,rnn_lstm(&o)); rnn_add(m,rnn_dense_simple(1,RNN_LINEAR)); rnn_compile(m,"mse","adam");
 rnn_tensor p; for(int r=0;r<8;r++){double t0=now(); rnn_predict(m,
                                                                 rnn_data_x(rnn_tensor3(x,N,T,F)),
                                                                 bs, &p, 1); double t=now()-t0; rnn_tensor_free(&p); printf("%.0f samples/s\n",N/t);}
}

/* B4's forward (LSTM(512) on (64, 100, 512)) through the public API, two variants of the library
 * alternated in one process, so that this VM's drift hits both alike: environment variable
 * VAR set (to $AB_VALUE, default 1) for variant B, unset for A. Prints min and median of each.
 * Build (from the repository root, after make):
 *   cc -O2 -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread tools/microbench/b4_forward_ab.c build/librnn.a -o /tmp/b4ab -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Usage: /tmp/b4ab VAR [reps] [train] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rnn.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static int cmp(const void *a,const void *b){double x=*(const double*)a,y=*(const double*)b;return x<y?-1:x>y;}
int main(int argc,char **argv){
  const char *var=argc>1?argv[1]:"RNN_NO_PANELS"; int reps=argc>2?atoi(argv[2]):10, train=argc>3;
  const int B=64,T=100,I=512,H=512; size_t nx=(size_t)B*T*I, ny=(size_t)B*T*H;
  float *xd=malloc(4*nx),*yd=malloc(4*ny); for(size_t i=0;i<nx;i++)xd[i]=(float)((i*2654435761u)%2001)/1000.0f-1.0f;
  for(size_t i=0;i<ny;i++)yd[i]=(float)((i*40503u)%1001)/2000.0f-0.25f;
  rnn_set_threads(2);
  rnn_tensor x=rnn_tensor3(xd,B,T,I), y=rnn_tensor3(yd,B,T,H);
  rnn_model *m=rnn_sequential(NULL); rnn_recurrent_options o=rnn_lstm_defaults(H); o.return_sequences=1;
  rnn_set_seed(m,4); rnn_input(m,T,I); rnn_add(m,rnn_lstm(&o)); rnn_compile(m, "mse", "adam");
  double ta[64],tb[64]; rnn_tensor out; double loss;
  for(int r=0;r<2*reps+2;r++){ int vb=r&1; if(vb)setenv(var,getenv("AB_VALUE")?getenv("AB_VALUE"):"1",1);else unsetenv(var);
    double t0=now(); if(train){ if(rnn_train_on_batch(m,x,y,&loss)) return 1; } else { if(rnn_predict_on_batch(m,x,&out)) return 1; rnn_tensor_free(&out);} double t=now()-t0;
    if(r>=2){ if(vb)tb[(r-2)/2]=t; else ta[(r-2)/2]=t; } }
  qsort(ta,reps,8,cmp); qsort(tb,reps,8,cmp);
  printf("%s: A (unset) min %.1f med %.1f ms | B (%s=1) min %.1f med %.1f ms\n", train?"train":"forward", ta[0]*1e3,ta[reps/2]*1e3,var,tb[0]*1e3,tb[reps/2]*1e3);
  return 0; }

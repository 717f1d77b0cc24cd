/* B2's inference (LSTM(64) -> Dense(1) on (10240, 50, 8), batch 256) through the public API, two
 * settings alternated in one process so that this VM's drift hits both alike: environment
 * variable VAR set to VALUE_B for the B runs, to VALUE_A (or unset when VALUE_A is "-") for
 * the A runs. Prints the median samples/s of each.
 * Build (from the repository root, after make):
 *   cc -O2 -Iinclude tools/microbench/ab_infer.c build/librnn.a -o /tmp/ab_infer -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Usage: /tmp/ab_infer VAR VALUE_A VALUE_B [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "rnn.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static int cmp(const void *a,const void *b){double x=*(const double*)a,y=*(const double*)b;return x<y?-1:x>y;}
int main(int argc,char **argv){
  if(argc<4) return 2; const char *var=argv[1],*va=argv[2],*vb=argv[3]; int reps=argc>4?atoi(argv[4]):10;
  const int N=10240,T=50,F=8; float *xd=malloc(4L*N*T*F); for(long i=0;i<(long)N*T*F;i++)xd[i]=(float)((i*2654435761u)%2001)/1000.0f-1.0f;
  rnn_set_threads(2);
  rnn_model *m=rnn_sequential(NULL); rnn_recurrent_options o=rnn_lstm_defaults(64); rnn_dense_options d=rnn_dense_defaults(1);
  rnn_set_seed(m,2); rnn_input(m,T,F); rnn_add(m,rnn_lstm(&o)); rnn_add(m,rnn_dense(&d)); rnn_compile(m,"mse","adam");
  rnn_tensor x=rnn_tensor3(xd,N,T,F), out; double ta[64],tb[64];
  for(int r=0;r<2*reps+2;r++){ int isb=r&1; const char *v=isb?vb:va; if(!strcmp(v,"-"))unsetenv(var); else setenv(var,v,1);
    double t0=now(); if(rnn_predict(m,x,256,&out)) {fprintf(stderr,"%s\n",rnn_last_error());return 1;} double t=now()-t0; rnn_tensor_free(&out);
    if(r>=2){ if(isb)tb[(r-2)/2]=N/t; else ta[(r-2)/2]=N/t; } }
  qsort(ta,reps,8,cmp); qsort(tb,reps,8,cmp);
  printf("%s=%s: median %.0f samples/s (max %.0f) | %s=%s: median %.0f (max %.0f)\n",var,va,ta[reps/2],ta[reps-1],var,vb,tb[reps/2],tb[reps-1]);
  return 0; }

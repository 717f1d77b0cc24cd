/* B5's step products on one core: three (1 x 128) x (128 x 512) products, a thread's half as
 * four 64-column slices, and the same half packed contiguous (256 columns).
 * Build (from the repository root, after make):
 *   cc -O2 -Isrc tools/microbench/stream_products.c build/librnn.a -o /tmp/stream_products -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Numbers from this program are quoted in bench/README.md ("One thread pool"). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(){
  int K=128,H=128,G=512; float *U=aligned_alloc(64,4*K*G*3), *a=aligned_alloc(64,4*K), *c=aligned_alloc(64,4*G*2);
  for(int i=0;i<K*G*3;i++)U[i]=(i%7)*0.01f; for(int i=0;i<K;i++)a[i]=0.1f;
  // case 1: 3 products full (1x128)x(128x512): 768KB
  for(int rep=0;rep<3;rep++){
  double best=1e9; for(int it=0;it<2000;it++){double t0=now(); for(int p=0;p<3;p++) rnn__gemm_fast(0,0,1,G,K,1,a,K,U+p*K*G,G,1,c,G); double t=now()-t0; if(t<best)best=t;}
  double best2=1e9; for(int it=0;it<2000;it++){double t0=now(); for(int p=0;p<3;p++) for(int g=0;g<4;g++) rnn__gemm_fast(0,0,1,64,K,1,a,K,U+p*K*G+g*H,G,1,c+g*H,G); double t=now()-t0; if(t<best2)best2=t;}
  double best3=1e9; for(int it=0;it<2000;it++){double t0=now(); for(int p=0;p<3;p++) rnn__gemm_fast(0,0,1,256,K,1,a,K,U+p*K*256,256,1,c,256); double t=now()-t0; if(t<best3)best3=t;}
  printf("full 3x(128x512) %.2f us; sliced half (4x64 cols) %.2f us; packed half (256 contiguous) %.2f us\n",best*1e6,best2*1e6,best3*1e6);}
}

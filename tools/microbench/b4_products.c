/* B4's shapes: a thread's slice of a step's product (AVX2 tiles against OpenBLAS on one
 * thread), the backward NT slice, and the three large products split by the team against
 * OpenBLAS's own two threads.
 * Build (from the repository root, after make):
 *   cc -O2 -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread tools/microbench/b4_products.c build/librnn.a -o /tmp/b4_products -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Numbers from this program are quoted in bench/README.md ("One thread pool"). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cblas.h>
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
#include "kernels/team.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static void step_slices(void){ openblas_set_num_threads(1);
  int M=64,K=512,H=512,G=2048; float *U=aligned_alloc(64,4L*K*G), *a=aligned_alloc(64,4L*M*K), *c=aligned_alloc(64,4L*M*G);
  for(long i=0;i<(long)K*G;i++)U[i]=(i%7)*0.01f; for(int i=0;i<M*K;i++)a[i]=0.1f;
  for(int rep=0;rep<3;rep++){
  double b1=1e9,b2=1e9,b3=1e9;
  for(int it=0;it<30;it++){double t0=now(); for(int g=0;g<4;g++) rnn__gemm_fast(0,0,M,256,K,1,a,K,U+g*H,G,1,c+g*H,G); double t=now()-t0; if(t<b1)b1=t;}
  for(int it=0;it<30;it++){double t0=now(); for(int g=0;g<4;g++) cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,256,K,1,a,K,U+g*H,G,1,c+g*H,G); double t=now()-t0; if(t<b2)b2=t;}
  for(int it=0;it<30;it++){double t0=now(); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,1024,K,1,a,K,U,G,1,c,G); double t=now()-t0; if(t<b3)b3=t;}
  double fl=2.0*M*1024*K;
  printf("own 4x256: %.1f GF/s; blas 4x256: %.1f; blas 1024: %.1f\n",fl/b1/1e9,fl/b2/1e9,fl/b3/1e9);}
}

static void nt_slices(void){
  int M=64,H=512,G=2048; float *Z=aligned_alloc(64,4L*M*G),*U=aligned_alloc(64,4L*H*G),*C=aligned_alloc(64,4L*M*H);
  for(long i=0;i<(long)H*G;i++)U[i]=(i%7)*0.01f; for(long i=0;i<(long)M*G;i++)Z[i]=(i%5)*0.01f;
  for(int rep=0;rep<2;rep++){ double fl=2.0*M*256*G;
  openblas_set_num_threads(1);
  double b1=1e9; for(int it=0;it<50;it++){double t0=now(); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,M,256,G,1,Z,G,U,G,0,C,H); double t=now()-t0; if(t<b1)b1=t;}
  double b2=1e9; for(int it=0;it<50;it++){double t0=now(); rnn__gemm_fast(0,1,M,256,G,1,Z,G,U,G,0,C,H); double t=now()-t0; if(t<b2)b2=t;}
  double b4=1e9; for(int it=0;it<50;it++){double t0=now(); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,256,M,G,1,U,G,Z,G,0,C,M); double t=now()-t0; if(t<b4)b4=t;}
  openblas_set_num_threads(2);
  double b3=1e9; for(int it=0;it<50;it++){double t0=now(); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,M,512,G,1,Z,G,U,G,0,C,H); double t=now()-t0; if(t<b3)b3=t;}
  printf("slice NT blas1 %.1f GF/s; own nt %.1f; blas1 as (U Z^T) %.1f; full blas2 %.1f (per-thread-equiv %.1f)\n",fl/b1/1e9,fl/b2/1e9,fl/b4/1e9,2*fl/b3/1e9,fl/b3/1e9);}
}

typedef struct{int ta,tb,M,N,K,lda,ldb,ldc;} S;
static void large_products(void){
  S s[3]={{0,0,6400,2048,512,512,2048,2048},{1,0,512,2048,6400,512,2048,2048},{0,1,6400,512,2048,2048,2048,512}};
  const char*nm[3]={"proj NN","dW TN","dx NT"};
  float *A=aligned_alloc(64,4L*6400*2048),*B=aligned_alloc(64,4L*6400*2048),*C=aligned_alloc(64,4L*6400*2048);
  for(long i=0;i<6400L*2048;i++){A[i]=(i%13)*0.01f;B[i]=(i%7)*0.01f;C[i]=0;}
  for(int c=0;c<3;c++){ double fl=2.0*s[c].M*s[c].N*s[c].K;
    rnn__team_set_size(2); openblas_set_num_threads(1);
    double b1=1e9; for(int it=0;it<4;it++){double t0=now(); rnn__product(s[c].M, s[c].N, s[c].K, A, s[c].lda, B, s[c].ldb, C, s[c].ldc, RNN_GEMM(.trans_a = s[c].ta, .trans_b = s[c].tb, .beta = 1)); double t=now()-t0; if(t<b1)b1=t;}
    rnn__team_set_size(1); openblas_set_num_threads(2);
    double b2=1e9; for(int it=0;it<4;it++){double t0=now(); cblas_sgemm(CblasRowMajor,s[c].ta?CblasTrans:CblasNoTrans,s[c].tb?CblasTrans:CblasNoTrans,s[c].M,s[c].N,s[c].K,1,A,s[c].lda,B,s[c].ldb,1,C,s[c].ldc); double t=now()-t0; if(t<b2)b2=t;}
    printf("%s: team split %.1f GF/s, openblas 2 threads %.1f\n",nm[c],fl/b1/1e9,fl/b2/1e9);}
}
int main(void) { step_slices(); nt_slices(); large_products(); return 0; }

/* B4's products against packed panels (kernels/gemm_packed.c), one thread, against OpenBLAS on
 * one thread and the unpacked AVX2 tiles; checks that the panels give the unpacked tiles' bits.
 * Build (from the repository root, after make):
 *   cc -O2 -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread tools/microbench/panels.c build/librnn.a -o /tmp/panels -lopenblas -lhdf5_serial -lzip -lcjson -lm -lpthread
 * Numbers from this program are quoted in bench/README.md ("Packed recurrent kernels"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include "kernels/gemm.h"
#include "kernels/gemm_kernels.h"
#include "kernels/gemm_packed.h"
#include "kernels/team.h"
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
static float *rnd(size_t n){float *p=aligned_alloc(64,4*((n+15)/16*16));for(size_t i=0;i<n;i++)p[i]=(float)((i*2654435761u)%1000)/1000.0f-0.5f;return p;}
/* (M x K) x (K x N) with N = 4 blocks of H: rows [0,M), block columns [lo,hi) of each block */
static void shape(const char *name,int M,int K,int H,int lo,int hi,int reps){
  const int N=4*H; float *A=rnd((size_t)M*K),*B=rnd((size_t)K*N),*C1=rnd((size_t)M*N),*C2=malloc(4L*M*N),*P=aligned_alloc(64,4*rnn__panels_floats(K,4,H));
  memcpy(C2,C1,4L*M*N);
  rnn__pack_panels(P,B,N,0,K,4,H,0,-1);
  for(int g=0;g<4;g++){rnn__gemm_panels(M,K,A,K,P,H,g,lo,hi,1,C1,N,C1,N); rnn__product(M, hi-lo, K, A, K, B+g*H+lo, N, C2+g*H+lo, N, RNN_GEMM(.beta = 1, .kernel = RNN_GEMM_OWN));}
  int same=memcmp(C1,C2,4L*M*N)==0;
  double fl=2.0*M*4*(hi-lo)*K, bp=1e9,bo=1e9,bb=1e9;
  for(int it=0;it<reps;it++){double t0=now();for(int g=0;g<4;g++)rnn__gemm_panels(M,K,A,K,P,H,g,lo,hi,1,C1,N,C1,N);double t=now()-t0;if(t<bp)bp=t;}
  for(int it=0;it<reps;it++){double t0=now();for(int g=0;g<4;g++)rnn__product(M, hi-lo, K, A, K, B+g*H+lo, N, C2+g*H+lo, N, RNN_GEMM(.beta = 1, .kernel = RNN_GEMM_OWN));double t=now()-t0;if(t<bo)bo=t;}
  for(int it=0;it<reps;it++){double t0=now();
    if(lo==0&&hi==H) cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,N,K,1,A,K,B,N,1,C2,N);
    else for(int g=0;g<4;g++)cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,hi-lo,K,1,A,K,B+g*H+lo,N,1,C2+g*H+lo,N);
    double t=now()-t0;if(t<bb)bb=t;}
  printf("%-34s panels %6.1f  own %6.1f  openblas %6.1f GFLOP/s  bits %s\n",name,fl/bp/1e9,fl/bo/1e9,fl/bb/1e9,same?"same":"DIFFER");
  free(A);free(B);free(C1);free(C2);free(P);
}
/* 100 steps of B4's (64 x 512) x (512 x 2048) on the team: panels split by units (a barrier per
 * step) against OpenBLAS on rows split 32/32 and on units. */
typedef struct { int mode; float *A,*B,*P,*C,*Cs; } steps_job;
static void steps(void *arg,int tid,int n){ steps_job *j=arg; const int M=64,K=512,H=512,N=2048;
  int lo=0,hi=0; rnn__team_units(H,tid,n,&lo,&hi);
  for(int t=0;t<100;t++){
    if(j->mode==0) for(int g=0;g<4;g++) rnn__gemm_panels(M,K,j->A,K,j->P,H,g,lo,hi,1,j->C,N,j->C,N);
    else if(j->mode==3) for(int g=0;g<4;g++) rnn__gemm_panels(M,K,j->A,K,j->P,H,g,lo,hi,1,j->Cs+(size_t)t*M*N,N,j->Cs+(size_t)t*M*N,N);
    else if(j->mode==1){int r0=M*tid/n,r1=M*(tid+1)/n; cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,r1-r0,N,K,1,j->A+r0*K,K,j->B,N,1,j->C+r0*N,N);}
    else for(int g=0;g<4;g++) cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,hi-lo,K,1,j->A,K,j->B+g*H+lo,N,1,j->C+g*H+lo,N);
    rnn__team_barrier();
  }
}
static void team_steps(void){ const int M=64,K=512,H=512,N=2048;
  steps_job j={0,rnd((size_t)M*K),rnd((size_t)K*N),aligned_alloc(64,4*rnn__panels_floats(K,4,H)),rnd((size_t)M*N),rnd((size_t)100*M*N)};
  rnn__pack_panels(j.P,j.B,N,0,K,4,H,0,-1);
  const char *names[4]={"panels by units","openblas by rows","openblas by units","panels, C of each step"};
  for(int rep=0;rep<3;rep++) for(int mode=0;mode<4;mode++){ j.mode=mode; double best=1e9;
    for(int it=0;it<5;it++){double t0=now(); rnn__team_run(steps,&j); double t=now()-t0; if(t<best)best=t;}
    printf("2 threads, 100 steps, %-18s %6.1f GFLOP/s\n",names[mode],100*2.0*M*N*K/best/1e9);}
}
/* B4's input projection (6400 x 512) x (512 x 2048) on 2 threads, rows split: panels (bias row
 * as S) against OpenBLAS per slice after a bias copy (the path without panels). */
typedef struct { int mode; float *A,*W,*P,*bias,*C; } proj_job;
static void proj(void *arg,int tid,int n){ proj_job *j=arg; const int M=6400,K=512,N=2048; int r0=M*tid/n,r1=M*(tid+1)/n;
  if(j->mode==0) rnn__gemm_panels(r1-r0,K,j->A+(size_t)r0*K,K,j->P,N,0,0,N,1,j->bias,0,j->C+(size_t)r0*N,N);
  else { for(int r=r0;r<r1;r++) memcpy(j->C+(size_t)r*N,j->bias,4*N); cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,r1-r0,N,K,1,j->A+(size_t)r0*K,K,j->W,N,1,j->C+(size_t)r0*N,N);} }
static void team_proj(void){ const int M=6400,K=512,N=2048;
  proj_job j={0,rnd((size_t)M*K),rnd((size_t)K*N),aligned_alloc(64,4*rnn__panels_floats(K,1,N)),rnd(N),rnd((size_t)M*N)};
  rnn__pack_panels(j.P,j.W,N,0,K,1,N,0,-1);
  const char *names[2]={"panels","bias copy + openblas"};
  for(int rep=0;rep<3;rep++) for(int mode=0;mode<2;mode++){ j.mode=mode; double best=1e9;
    for(int it=0;it<4;it++){double t0=now(); rnn__team_run(proj,&j); double t=now()-t0; if(t<best)best=t;}
    printf("2 threads, projection, %-22s %6.1f GFLOP/s (%.1f ms)\n",names[mode],2.0*M*N*K/best/1e9,best*1e3);}
}
/* Backward's dh = dZ U^T per thread: the AVX2 dot tiles on U (NT) against panels of U^T. */
static void nt_shape(const char *name,int M,int H,int G,int reps){ const int K=G*H;
  float *Z=rnd((size_t)M*K),*U=rnd((size_t)H*K),*C1=rnd((size_t)M*H),*C2=rnd((size_t)M*H),*P=aligned_alloc(64,4*rnn__panels_floats(K,1,H));
  rnn__pack_panels(P,U,K,1,K,1,H,0,-1);
  double bo=1e9,bp=1e9;
  for(int it=0;it<reps;it++){double t0=now();rnn__product(M, H, K, Z, K, U, K, C1, H, RNN_GEMM(.trans_b = 1, .kernel = RNN_GEMM_OWN));double t=now()-t0;if(t<bo)bo=t;
    t0=now();rnn__gemm_panels(M,K,Z,K,P,H,0,0,H,0,NULL,0,C2,H);t=now()-t0;if(t<bp)bp=t;}
  double worst=0;for(int i=0;i<M*H;i++){double d=C1[i]-C2[i];if(d<0)d=-d;if(d>worst)worst=d;}
  printf("%-34s dot tiles %6.1f  panels %6.1f GFLOP/s (max diff %.1e)\n",name,2.0*M*H*K/bo/1e9,2.0*M*H*K/bp/1e9,worst);
  free(Z);free(U);free(C1);free(C2);free(P);}
int main(int argc,char **argv){
  if(argc>1&&argv[1][0]=='i'){ for(int r=0;r<3;r++){ shape("B2 inference (128x64)x(64x4x64)",128,64,64,0,64,2000); shape("B2 training (16x64)x(64x4x64)",16,64,64,0,64,5000);} return 0; }
  if(argc>1&&argv[1][0]=='n'){ for(int r=0;r<3;r++){ nt_shape("B2 dh (16x256)x(256x64)",16,64,4,2000); nt_shape("B6 dh (32x400)x(400x100)",32,100,4,1000);
    nt_shape("B3 GRU(128) dh (16x384)x(384x128)",16,128,3,1000); nt_shape("tests (6x80)x(80x20)",6,20,4,5000);} return 0; }
  openblas_set_num_threads(1);
  if(argc>1){rnn__team_set_size(2); team_steps(); team_proj(); return 0;}
  for(int r=0;r<2;r++){
  shape("step by rows (32x512)x(512x2048)",32,512,512,0,512,40);
  shape("step by units (64x512)x(512x4x256)",64,512,512,0,256,40);
  shape("step B=64 all (64x512)x(512x2048)",64,512,512,0,512,20);
  shape("projection half (3200x512)x(512x2048)",3200,512,512,0,512,3);
  shape("B3 GRU-like (16x512)x(512x4x512)",16,512,512,0,512,40);
  shape("B6-like (32x100)x(100x4x100)",32,100,100,0,100,200);
  shape("odd (13x37)x(37x4x29) lo 8",13,37,29,8,29,200);
  }
  return 0;
}

// bench_ours.c — our bf16 GEMM (Sources/CHxa079Kernels/isa_avx512bf16.c, the
// kernel of the bf16 engine) on the shapes of bench_onednn.cpp, for the
// side-by-side figures of scripts/bench-onednn.sh (SPEC.md §4.9).
//
// Contract: Y[M][N] (f32) = X[M][K] · W^T, X and W bf16 row major (W [N][K],
// read in place), through `hxa_gemm_bf16_avx512bf16` (M > 1) or
// `hxa_gemv_bf16_avx512bf16` (M = 1) on 2 threads, each a half of the output
// columns (the engine hands out up to 8 parts dynamically: the same kernel).
// Also the ceiling: vdpbf16ps on registers on 2 threads. Best of >= 5 runs
// after 2 warm-ups (more for small shapes, until ~0.3 s of timed work, at
// most 200); GFLOP/s = 2·M·N·K / best. Seeded inputs. Exit 2 on a CPU
// without AVX512-BF16.
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void hxa_gemm_bf16_avx512bf16(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                              long M, long n0, long n1, int accumulate);
void hxa_gemv_bf16_avx512bf16(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1);
float hxa_bf16_peak_loop_avx512bf16(long iters);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static uint32_t seed = 1;
static uint16_t random_bf16(void) {   // uniform in [-0.5, 0.5), rounded to bf16
    seed = seed * 1664525u + 1013904223u;
    float f = (float)(seed >> 8) / (float)(1 << 24) - 0.5f;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

typedef struct { const uint16_t *a, *w; float *c; long M, N, K, n0, n1; } job;
static void *run_job(void *p) {
    job *j = p;
    if (j->M == 1) hxa_gemv_bf16_avx512bf16(j->w, j->K, j->K, j->a, j->c, j->n0, j->n1);
    else hxa_gemm_bf16_avx512bf16(j->a, j->K, j->w, j->K, j->K, j->c, j->N, j->M, j->n0, j->n1, 0);
    return NULL;
}
static void *peak_job(void *p) { hxa_bf16_peak_loop_avx512bf16(*(long *)p); return NULL; }

static double product(const uint16_t *a, const uint16_t *w, float *c, long M, long N, long K) {
    long half = (N / 2) & ~15L;
    job j[2] = {{a, w, c, M, N, K, 0, half}, {a, w, c, M, N, K, half, N}};
    pthread_t t[2];
    double t0 = now();
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run_job, &j[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return now() - t0;
}

int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16") || !__builtin_cpu_supports("avx512bw")) {
        fprintf(stderr, "error: this CPU has no AVX512-BF16\n");
        return 2;
    }
    long iters = 50000000;
    pthread_t t[2];
    double t0 = now();
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, peak_job, &iters);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("vdpbf16ps on registers, 2 threads: %.1f GFLOP/s\n", 2.0 * iters * 16 * 64 / (now() - t0) / 1e9);
    long shapes[][3] = {{1536, 1024}, {1024, 1024}, {5632, 1024}, {1024, 2816}, {32000, 1024}};
    long list[32][3];
    int n = 0;
    long ms[3] = {512, 128, 1};
    for (int i = 0; i < 3; i++)
        for (int s = 0; s < 5; s++) { list[n][0] = ms[i]; list[n][1] = shapes[s][0]; list[n][2] = shapes[s][1]; n++; }
    long big[5][3] = {{128, 6144 + 2 * 768, 6144}, {128, 6144, 6144}, {128, 2 * 19648, 6144}, {128, 6144, 19648}, {2048, 2048, 2048}};
    for (int s = 0; s < 5; s++) { memcpy(list[n], big[s], sizeof big[s]); n++; }
    printf("%-6s %-6s %-6s %-10s %13s %16s\n", "M", "N", "K", "variant", "best", "rate");
    for (int s = 0; s < n; s++) {
        long M = list[s][0], N = list[s][1], K = list[s][2];
        uint16_t *a = malloc(2 * M * K), *w = malloc(2 * N * K);
        float *c = malloc(4 * M * N);
        if (!a || !w || !c) { fprintf(stderr, "error: out of memory\n"); return 1; }
        for (long i = 0; i < M * K; i++) a[i] = random_bf16();
        for (long i = 0; i < N * K; i++) w[i] = random_bf16();
        product(a, w, c, M, N, K);
        product(a, w, c, M, N, K);
        double best = 1e30, spent = 0;
        for (int rep = 0; rep < 200 && (rep < 5 || spent < 0.3); rep++) {
            double dt = product(a, w, c, M, N, K);
            spent += dt;
            if (dt < best) best = dt;
        }
        printf("%-6ld %-6ld %-6ld %-10s %10.3f ms %8.1f GFLOP/s\n", M, N, K, "ours", best * 1e3, 2.0 * M * N * K / best / 1e9);
        free(a); free(w); free(c);
    }
    return 0;
}

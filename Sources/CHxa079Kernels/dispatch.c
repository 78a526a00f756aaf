// dispatch.c: which build of the kernels runs (see hxa079_kernels.h), and the
// public entry points that forward to the portable, AVX2 or AVX-512 build of
// each body (float, then the _f64 entry points on double).
#include "hxa079_kernels.h"
#include "kernels_internal.h"
#include <stdlib.h>
#include <string.h>

/// The highest level this CPU runs.
static int cpu_level(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    int cpu = HXA_LEVEL_PORTABLE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) cpu = HXA_LEVEL_AVX2;
    if (cpu == HXA_LEVEL_AVX2 && __builtin_cpu_supports("avx512f")) cpu = HXA_LEVEL_AVX512;
    if (cpu == HXA_LEVEL_AVX512 && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")
        && __builtin_cpu_supports("avx512bf16"))
        cpu = HXA_LEVEL_AVX512BF16;
    return cpu;
#else
    return HXA_LEVEL_PORTABLE;
#endif
}

static int max_level = -1;
static int level = -1;

int hxa_kernel_max_level(void) {
    int m = __atomic_load_n(&max_level, __ATOMIC_ACQUIRE);
    if (m < 0) {
        m = cpu_level();
        __atomic_store_n(&max_level, m, __ATOMIC_RELEASE);
    }
    return m;
}

/// The starting level: the CPU's, capped by HXA079_FAST_KERNELS.
static int initial_level(void) {
    const int cpu = hxa_kernel_max_level();
    const char *want = getenv("HXA079_FAST_KERNELS");
    if (want) {
        if (strcmp(want, "portable") == 0) return HXA_LEVEL_PORTABLE;
        if (strcmp(want, "avx2") == 0) return cpu < HXA_LEVEL_AVX2 ? cpu : HXA_LEVEL_AVX2;
        if (strcmp(want, "avx512") == 0) return cpu < HXA_LEVEL_AVX512 ? cpu : HXA_LEVEL_AVX512;
    }
    return cpu;
}

int hxa_kernel_level(void) {
    int l = __atomic_load_n(&level, __ATOMIC_ACQUIRE);
    if (l < 0) {
        l = initial_level();
        int unset = -1;   // a concurrent hxa_kernel_set_level wins
        if (!__atomic_compare_exchange_n(&level, &unset, l, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) l = unset;
    }
    return l;
}

int hxa_kernel_set_level(int l) {
    const int m = hxa_kernel_max_level();
    l = l < HXA_LEVEL_PORTABLE ? HXA_LEVEL_PORTABLE : l > m ? m : l;
    __atomic_store_n(&level, l, __ATOMIC_RELEASE);
    return l;
}

const char *hxa_kernel_level_name(int l) {
    switch (l) {
    case HXA_LEVEL_AVX512BF16: return "avx512bf16";
    case HXA_LEVEL_AVX512: return "avx512f";
    case HXA_LEVEL_AVX2: return "avx2+fma";
    default: return "portable";
    }
}

#if defined(__x86_64__)
#define DISPATCH(name, args)                                      \
    do {                                                          \
        switch (hxa_kernel_level()) {                             \
        case HXA_LEVEL_AVX512BF16:                                \
        case HXA_LEVEL_AVX512: name##_avx512 args; break;         \
        case HXA_LEVEL_AVX2: name##_avx2 args; break;             \
        default: name##_portable args; break;                     \
        }                                                         \
    } while (0)
#else
#define DISPATCH(name, args) name##_portable args
#endif

void hxa_wkv_recurrent_t(const hxa_wkv_args *a, float *st, long h0, long h1) {
    DISPATCH(wkv_recurrent_t, (a, st, h0, h1));
}
void hxa_wkv_step_canonical(const hxa_wkv_args *a, float *s, long h0, long h1) {
    DISPATCH(wkv_step_canonical, (a, s, h0, h1));
}
long hxa_wkv_chunked_scratch_floats(long chunk, long key_size, long value_size) {
    return hxa_chunk_floats(chunk, key_size, value_size);
}
void hxa_wkv_chunked_t(const hxa_wkv_args *a, long chunk, float *st, long h0, long h1, float *scratch) {
    DISPATCH(wkv_chunked_t, (a, chunk, st, h0, h1, scratch));
}
void hxa_gemv_rows_f32(const float *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    DISPATCH(gemv_rows, (w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_rows_bf16(const uint16_t *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    DISPATCH(gemv_rows_bf16, (w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_cols_f32(const float *w, long ldw, long rows, const float *x, float *y, long c0, long c1) {
    DISPATCH(gemv_cols, (w, ldw, rows, x, y, c0, c1));
}
void hxa_silu_mul(const float *g, const float *u, float *y, long n) {
    DISPATCH(silu_mul, (g, u, y, n));
}
void hxa_softmax_row(float *row, long valid, long total, float scale) {
    DISPATCH(softmax_row, (row, valid, total, scale));
}
void hxa_decay_iclr_row(const float *w0, const float *a0, float *w, float *a, long n) {
    DISPATCH(decay_iclr_row, (w0, a0, w, a, n));
}
void hxa_wkv_inputs(const float *k, const float *w, const float *a, float norm, float *kk, float *ks, float *g,
                    float *d, float *alpha, float *beta, long n) {
    DISPATCH(wkv_inputs, (k, w, a, norm, kk, ks, g, d, alpha, beta, n));
}
void hxa_residual_mix(const float *raw, const float *first, const float *z, const float *bias, float *out, long n) {
    DISPATCH(residual_mix, (raw, first, z, bias, out, n));
}
void hxa_unary(enum hxa_unary_op op, const float *x, float *y, long n) {
    DISPATCH(unary, ((int)op, x, y, n));
}

void hxa_bf16_round(float *x, long n) {
    DISPATCH(bf16_round, (x, n));
}
void hxa_bf16_pack(const float *x, uint16_t *y, long n) {
    DISPATCH(bf16_pack, (x, y, n));
}
void hxa_gemm_bf16(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc, long M,
                   long n0, long n1, int accumulate) {
#if defined(__x86_64__)
    if (hxa_kernel_level() >= HXA_LEVEL_AVX512BF16) {
        hxa_gemm_bf16_avx512bf16(a, lda, w, ldw, K, c, ldc, M, n0, n1, accumulate);
        return;
    }
#endif
    hxa_gemm_bf16_scalar(a, lda, w, ldw, K, c, ldc, M, n0, n1, accumulate);
}
void hxa_gemv_bf16(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1) {
#if defined(__x86_64__)
    if (hxa_kernel_level() >= HXA_LEVEL_AVX512BF16) {
        hxa_gemv_bf16_avx512bf16(w, ldw, K, x, y, r0, r1);
        return;
    }
#endif
    hxa_gemv_bf16_scalar(w, ldw, K, x, y, r0, r1);
}
float hxa_bf16_peak_loop(long iters) {
#if defined(__x86_64__)
    if (hxa_kernel_level() >= HXA_LEVEL_AVX512BF16) return hxa_bf16_peak_loop_avx512bf16(iters);
#endif
    (void)iters;
    return -1;
}

// MARK: float64

void hxa_wkv_recurrent_t_f64(const hxa_wkv_args_f64 *a, double *st, long h0, long h1) {
    DISPATCH(wkv_recurrent_t_f64, (a, st, h0, h1));
}
void hxa_wkv_step_canonical_f64(const hxa_wkv_args_f64 *a, double *s, long h0, long h1) {
    DISPATCH(wkv_step_canonical_f64, (a, s, h0, h1));
}
long hxa_wkv_chunked_scratch_f64(long chunk, long key_size, long value_size) {
    return hxa_chunk_floats(chunk, key_size, value_size);
}
void hxa_wkv_chunked_t_f64(const hxa_wkv_args_f64 *a, long chunk, double *st, long h0, long h1, double *scratch) {
    DISPATCH(wkv_chunked_t_f64, (a, chunk, st, h0, h1, scratch));
}
void hxa_gemv_rows_f64(const double *w, long ldw, long cols, const double *x, double *y, long r0, long r1) {
    DISPATCH(gemv_rows_f64, (w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_rows_bf16_f64(const uint16_t *w, long ldw, long cols, const double *x, double *y, long r0, long r1) {
    DISPATCH(gemv_rows_bf16_f64, (w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_cols_f64(const double *w, long ldw, long rows, const double *x, double *y, long c0, long c1) {
    DISPATCH(gemv_cols_f64, (w, ldw, rows, x, y, c0, c1));
}
void hxa_silu_mul_f64(const double *g, const double *u, double *y, long n) {
    DISPATCH(silu_mul_f64, (g, u, y, n));
}
void hxa_softmax_row_f64(double *row, long valid, long total, double scale) {
    DISPATCH(softmax_row_f64, (row, valid, total, scale));
}
void hxa_decay_iclr_row_f64(const double *w0, const double *a0, double *w, double *a, long n) {
    DISPATCH(decay_iclr_row_f64, (w0, a0, w, a, n));
}
void hxa_wkv_inputs_f64(const double *k, const double *w, const double *a, double norm, double *kk, double *ks,
                        double *g, double *d, double *alpha, double *beta, long n) {
    DISPATCH(wkv_inputs_f64, (k, w, a, norm, kk, ks, g, d, alpha, beta, n));
}
void hxa_residual_mix_f64(const double *raw, const double *first, const double *z, const double *bias, double *out,
                          long n) {
    DISPATCH(residual_mix_f64, (raw, first, z, bias, out, n));
}
void hxa_unary_f64(enum hxa_unary_op op, const double *x, double *y, long n) {
    DISPATCH(unary_f64, ((int)op, x, y, n));
}

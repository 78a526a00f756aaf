// dispatch.c: which kernel set this CPU runs (see hxa079_kernels.h), and the
// public entry points that forward to the AVX2 or AVX-512 build of each body.
#include "hxa079_kernels.h"
#include "kernels_internal.h"
#include <stdlib.h>
#include <string.h>

static int detect(void) {
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
    __builtin_cpu_init();
    int cpu = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) cpu = 1;
    if (cpu == 1 && __builtin_cpu_supports("avx512f")) cpu = 2;
    const char *want = getenv("HXA079_FAST_KERNELS");
    if (want) {
        if (strcmp(want, "swift") == 0) return 0;
        if (strcmp(want, "avx2") == 0) return cpu >= 1 ? 1 : 0;
    }
    return cpu;
#else
    return 0;
#endif
}

static int level = -1;

int hxa_kernel_level(void) {
    int l = __atomic_load_n(&level, __ATOMIC_ACQUIRE);
    if (l < 0) {
        l = detect();
        __atomic_store_n(&level, l, __ATOMIC_RELEASE);
    }
    return l;
}

const char *hxa_kernel_name(void) {
    switch (hxa_kernel_level()) {
    case 2: return "avx512f";
    case 1: return "avx2+fma";
    default: return "swift";
    }
}

#if defined(__x86_64__)
#define DISPATCH(call_avx512, call_avx2) \
    do { if (hxa_kernel_level() == 2) { call_avx512; } else { call_avx2; } } while (0)
#else
#define DISPATCH(call_avx512, call_avx2) do { } while (0)
#endif

void hxa_wkv_recurrent_t(const hxa_wkv_args *a, float *st, long h0, long h1) {
    DISPATCH(wkv_recurrent_t_avx512(a, st, h0, h1), wkv_recurrent_t_avx2(a, st, h0, h1));
}
void hxa_wkv_step_canonical(const hxa_wkv_args *a, float *s, long h0, long h1) {
    DISPATCH(wkv_step_canonical_avx512(a, s, h0, h1), wkv_step_canonical_avx2(a, s, h0, h1));
}
long hxa_wkv_chunked_scratch_floats(long chunk, long key_size, long value_size) {
    return hxa_chunk_floats(chunk, key_size, value_size);
}
void hxa_wkv_chunked_t(const hxa_wkv_args *a, long chunk, float *st, long h0, long h1, float *scratch) {
    DISPATCH(wkv_chunked_t_avx512(a, chunk, st, h0, h1, scratch),
             wkv_chunked_t_avx2(a, chunk, st, h0, h1, scratch));
}
void hxa_gemv_rows_f32(const float *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    DISPATCH(gemv_rows_f32_avx512(w, ldw, cols, x, y, r0, r1), gemv_rows_f32_avx2(w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_rows_bf16(const uint16_t *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    DISPATCH(gemv_rows_bf16_avx512(w, ldw, cols, x, y, r0, r1), gemv_rows_bf16_avx2(w, ldw, cols, x, y, r0, r1));
}
void hxa_gemv_cols_f32(const float *w, long ldw, long rows, const float *x, float *y, long c0, long c1) {
    DISPATCH(gemv_cols_f32_avx512(w, ldw, rows, x, y, c0, c1), gemv_cols_f32_avx2(w, ldw, rows, x, y, c0, c1));
}
void hxa_silu_mul(const float *g, const float *u, float *y, long n) {
    DISPATCH(silu_mul_avx512(g, u, y, n), silu_mul_avx2(g, u, y, n));
}
void hxa_softmax_row(float *row, long valid, long total, float scale) {
    DISPATCH(softmax_row_avx512(row, valid, total, scale), softmax_row_avx2(row, valid, total, scale));
}
void hxa_decay_iclr_row(const float *w0, const float *a0, float *w, float *a, long n) {
    DISPATCH(decay_iclr_row_avx512(w0, a0, w, a, n), decay_iclr_row_avx2(w0, a0, w, a, n));
}
void hxa_wkv_inputs(const float *k, const float *w, const float *a, float norm, float *kk, float *ks, float *g,
                    float *d, float *alpha, float *beta, long n) {
    DISPATCH(wkv_inputs_avx512(k, w, a, norm, kk, ks, g, d, alpha, beta, n),
             wkv_inputs_avx2(k, w, a, norm, kk, ks, g, d, alpha, beta, n));
}
void hxa_residual_mix(const float *raw, const float *first, const float *z, const float *bias, float *out, long n) {
    DISPATCH(residual_mix_avx512(raw, first, z, bias, out, n), residual_mix_avx2(raw, first, z, bias, out, n));
}

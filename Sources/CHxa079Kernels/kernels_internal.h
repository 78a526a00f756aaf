// kernels_internal.h: the builds of each kernel body, three levels × {float, double} (not public).
#ifndef HXA079_KERNELS_INTERNAL_H
#define HXA079_KERNELS_INTERNAL_H
#include "hxa079_kernels.h"
#include <stdlib.h>

/// Keys up to which a WKV kernel computing d = exp(g) itself keeps d on the stack.
#define HXA_INLINE_DECAY_STACK_K 512

#define HXA_DECLARE(sfx, real, args) \
    void wkv_recurrent_t_##sfx(const args *a, real *st, long h0, long h1); \
    void wkv_step_canonical_##sfx(const args *a, real *s, long h0, long h1); \
    void gemv_rows_##sfx(const real *w, long ldw, long cols, const real *x, real *y, long r0, long r1); \
    void gemv_rows_bf16_##sfx(const uint16_t *w, long ldw, long cols, const real *x, real *y, long r0, long r1); \
    void gemv_cols_##sfx(const real *w, long ldw, long rows, const real *x, real *y, long c0, long c1); \
    void wkv_chunked_t_##sfx(const args *a, long chunk, real *st, long h0, long h1, real *scratch); \
    void silu_mul_##sfx(const real *g, const real *u, real *y, long n); \
    void softmax_row_##sfx(real *row, long valid, long total, real scale); \
    void decay_iclr_row_##sfx(const real *w0, const real *a0, real *w, real *a, long n); \
    void wkv_inputs_##sfx(const real *k, const real *w, const real *a, real norm, real *kk, real *ks, \
                          real *g, real *d, real *alpha, real *beta, long n); \
    void residual_mix_##sfx(const real *raw, const real *first, const real *z, const real *bias, real *out, long n); \
    void unary_##sfx(int op, const real *x, real *y, long n);

/// x rounded up to a multiple of 16 (the padding of every row in the chunked
/// WKV scratch, so every build uses one layout).
static inline long hxa_pad16(long x) { return (x + 15) & ~15L; }

/// Heads whose chunk inputs the chunked WKV gathers at once (each step row of
/// an input is then read once per group, not once per head: with H·K floats a
/// page, per-head reads cost a TLB miss per row and array).
static inline long hxa_chunk_group(long L) {
    const long g = 128 / (L < 1 ? 1 : L);
    return g < 1 ? 1 : g > 8 ? 8 : g;
}

/// Elements (floats or doubles) of scratch the chunked WKV needs for chunks of up to L steps (the
/// layout is in wkv_chunked_body.h), plus 16 for aligning the start to 64 bytes.
static inline long hxa_chunk_floats(long L, long K, long V) {
    if (L < 1) L = 1;
    const long Kp = hxa_pad16(K), Vp = hxa_pad16(V), nl = hxa_pad16(L);
    return K * Vp + 3 * L * Vp + 4 * L * Kp + 2 * K * nl + 4 * L * nl + 2 * Kp
        + hxa_chunk_group(L) * L * (5 * Kp + 2 * Vp) + 16;
}

/// bf16 storage rounding (bf16_body.h), float builds only.
#define HXA_DECLARE_BF16(sfx) \
    void bf16_round_##sfx(float *x, long n); \
    void bf16_pack_##sfx(const float *x, uint16_t *y, long n);
HXA_DECLARE_BF16(portable)
/// The bf16 matrix products (isa_avx512bf16.c): the scalar twins everywhere, vdpbf16ps on x86-64.
void hxa_gemm_bf16_scalar(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                          long M, long n0, long n1, int accumulate);
void hxa_gemv_bf16_scalar(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1);
#if defined(__x86_64__)
HXA_DECLARE_BF16(avx2)
HXA_DECLARE_BF16(avx512)
void hxa_gemm_bf16_avx512bf16(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                              long M, long n0, long n1, int accumulate);
void hxa_gemv_bf16_avx512bf16(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1);
float hxa_bf16_peak_loop_avx512bf16(long iters);
#endif

HXA_DECLARE(portable, float, hxa_wkv_args)
HXA_DECLARE(f64_portable, double, hxa_wkv_args_f64)
#if defined(__x86_64__)
HXA_DECLARE(avx2, float, hxa_wkv_args)
HXA_DECLARE(avx512, float, hxa_wkv_args)
HXA_DECLARE(f64_avx2, double, hxa_wkv_args_f64)
HXA_DECLARE(f64_avx512, double, hxa_wkv_args_f64)
#endif
#endif

// kernels_internal.h: the three builds of each kernel body (not public).
#ifndef HXA079_KERNELS_INTERNAL_H
#define HXA079_KERNELS_INTERNAL_H
#include "hxa079_kernels.h"
#include <stdlib.h>

/// Keys up to which a WKV kernel computing d = exp(g) itself keeps d on the stack.
#define HXA_INLINE_DECAY_STACK_K 512

#define HXA_DECLARE(sfx) \
    void wkv_recurrent_t_##sfx(const hxa_wkv_args *a, float *st, long h0, long h1); \
    void wkv_step_canonical_##sfx(const hxa_wkv_args *a, float *s, long h0, long h1); \
    void gemv_rows_f32_##sfx(const float *w, long ldw, long cols, const float *x, float *y, long r0, long r1); \
    void gemv_rows_bf16_##sfx(const uint16_t *w, long ldw, long cols, const float *x, float *y, long r0, long r1); \
    void gemv_cols_f32_##sfx(const float *w, long ldw, long rows, const float *x, float *y, long c0, long c1); \
    void wkv_chunked_t_##sfx(const hxa_wkv_args *a, long chunk, float *st, long h0, long h1, float *scratch); \
    void silu_mul_##sfx(const float *g, const float *u, float *y, long n); \
    void softmax_row_##sfx(float *row, long valid, long total, float scale); \
    void decay_iclr_row_##sfx(const float *w0, const float *a0, float *w, float *a, long n); \
    void wkv_inputs_##sfx(const float *k, const float *w, const float *a, float norm, float *kk, float *ks, \
                          float *g, float *d, float *alpha, float *beta, long n); \
    void residual_mix_##sfx(const float *raw, const float *first, const float *z, const float *bias, float *out, long n); \
    void unary_##sfx(int op, const float *x, float *y, long n);

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

/// Floats of scratch the chunked WKV needs for chunks of up to L steps (the
/// layout is in wkv_chunked_body.h), plus 16 for aligning the start to 64 bytes.
static inline long hxa_chunk_floats(long L, long K, long V) {
    if (L < 1) L = 1;
    const long Kp = hxa_pad16(K), Vp = hxa_pad16(V), nl = hxa_pad16(L);
    return K * Vp + 3 * L * Vp + 4 * L * Kp + 2 * K * nl + 4 * L * nl + 2 * Kp
        + hxa_chunk_group(L) * L * (5 * Kp + 2 * Vp) + 16;
}

HXA_DECLARE(portable)
#if defined(__x86_64__)
HXA_DECLARE(avx2)
HXA_DECLARE(avx512)
#endif
#endif

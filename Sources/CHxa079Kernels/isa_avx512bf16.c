// isa_avx512bf16.c: the bfloat16 matrix products of the bf16 engine
// (`--engine fast --precision bf16`) on AVX512-BF16, and their portable
// scalar twins (contracts in include/hxa079_kernels.h).
//
// vdpbf16ps (`_mm512_dpbf16_ps`) multiplies 32 pairs of bf16 and adds each
// adjacent pair of products into one of 16 float lanes: lane i of
// acc += a[2i]·b[2i] + a[2i+1]·b[2i+1], products exact (8-bit significands),
// sums rounded to float, denormal inputs and results flushed to zero (Intel
// SDM, VDPBF16PS). So a row of A and a row of W, both bf16 along k, are
// multiplied in place — no packing: A [M][K] row major and W [N][K] (the
// PyTorch [out][in] layout, read in place from a mapped BF16 file) are
// already pair-interleaved along k.
//
// GEMM (`hxa_gemm_bf16`): register blocks of 4 rows of A × 4 rows of W,
// 16 accumulators of 16 partial sums each, 32 k per step (8 loads, 16
// vdpbf16ps; the tail masked); at the end of a k tile the 16 accumulators are
// reduced by one transpose-and-add tree into one vector of the 16 results
// (`reduce16`). Cache blocks: k tiles of at most `KC` (4 rows of A and 4 of
// W stay in L1), n blocks of `nb` rows of W (≤ 256 KiB, stay in L2) swept
// by every group of 4 rows of A. Measured (BENCHMARKS.md, "bf16 matrix
// products"): against oneDNN 2.6 and a vdpbf16ps peak loop.
// GEMV (`hxa_gemv_bf16`, decode): one row of W at a time, four accumulator
// chains of 32 k, then a horizontal sum: the weights are one sequential
// stream (as the f32 GEMV, gemv_body.h).
//
// Elsewhere (other architectures, or a CPU without AVX512-BF16) the scalar
// twins compute the same function up to the order of the float sums and the
// flushing of denormals; the fast path does not call them there (it widens the
// weights and uses sgemm, DenseMatrix.swift) — they keep the entry points
// total and are what the tests hold the vector code to.
#include "kernels_internal.h"

/// float of bf16 bits (exact).
static inline float bf16_value(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    __builtin_memcpy(&f, &u, sizeof f);
    return f;
}

/// C [m][n] for m < M, n in n0..<n1, as a plain loop (pairs of products
/// summed as vdpbf16ps does, then into the running sum).
static void gemm_bf16_scalar(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                             long M, long n0, long n1, int accumulate) {
    for (long m = 0; m < M; m++) {
        for (long n = n0; n < n1; n++) {
            const uint16_t *ar = a + m * lda, *wr = w + n * ldw;
            float s = 0;
            long k = 0;
            for (; k + 1 < K; k += 2) s += bf16_value(ar[k]) * bf16_value(wr[k]) + bf16_value(ar[k + 1]) * bf16_value(wr[k + 1]);
            if (k < K) s += bf16_value(ar[k]) * bf16_value(wr[k]);
            c[m * ldc + n] = accumulate ? c[m * ldc + n] + s : s;
        }
    }
}

void hxa_gemm_bf16_scalar(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                          long M, long n0, long n1, int accumulate) {
    gemm_bf16_scalar(a, lda, w, ldw, K, c, ldc, M, n0, n1, accumulate);
}

void hxa_gemv_bf16_scalar(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1) {
    gemm_bf16_scalar(x, K, w, ldw, K, y, 0, 1, r0, r1, 0);   // one row of A: C[0][r] = y[r]
}

#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma"))), apply_to = function)

/// Largest k tile: 4 rows of A and 4 of W of KC bf16 = 32 KiB, L1.
#define KC 2048

static inline __m512 dp(__m512 acc, __m512i a, __m512i b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

/// 32 bf16 at p, or the first `rem` of them (rest zero) when rem < 32.
static inline __m512i load32(const uint16_t *p, long rem) {
    if (rem >= 32) return _mm512_loadu_si512((const void *)p);
    return _mm512_maskz_loadu_epi16((__mmask32)((1u << rem) - 1u), (const void *)p);
}

/// out lane i = the sum of the 16 lanes of v[i] (a transpose-and-add tree:
/// unpack within 128-bit lanes twice, then shuffle 128-bit lanes twice).
static inline __m512 reduce16(const __m512 v[16]) {
    __m512 t[8], u[4], x[2];
    for (int j = 0; j < 8; j++)
        t[j] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * j], v[2 * j + 1]), _mm512_unpackhi_ps(v[2 * j], v[2 * j + 1]));
    for (int j = 0; j < 4; j++) {
        const __m512d a = _mm512_castps_pd(t[2 * j]), b = _mm512_castps_pd(t[2 * j + 1]);
        u[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    // u[j], 128-bit lane l: partial sums (over lane l) of v[4j .. 4j+3]
    for (int j = 0; j < 2; j++)
        x[j] = _mm512_add_ps(_mm512_shuffle_f32x4(u[2 * j], u[2 * j + 1], 0x88), _mm512_shuffle_f32x4(u[2 * j], u[2 * j + 1], 0xDD));
    // x[j], lane l: v[8j + 4(l>>1) ..] partial over two lanes (lanes 0,1 from u[2j], 2,3 from u[2j+1])
    return _mm512_add_ps(_mm512_shuffle_f32x4(x[0], x[1], 0x88), _mm512_shuffle_f32x4(x[0], x[1], 0xDD));
}

/// C[i][j] (+)= A[i][k0..<k1] · W[j][k0..<k1] for i < mr ≤ 4 rows of A and
/// j < 4 rows of W; accumulator v[4i + j].
static inline __attribute__((always_inline)) void block4(const int mr, const uint16_t *a, long lda,
                                                          const uint16_t *w, long ldw, long k0, long k1, float *c,
                                                          long ldc, int accumulate) {
    __m512 v[16];
    for (int i = 0; i < 16; i++) v[i] = _mm512_setzero_ps();
    for (long k = k0; k < k1; k += 32) {
        const long rem = k1 - k;
        __m512i ar[4];
        for (int i = 0; i < mr; i++) ar[i] = load32(a + i * lda + k, rem);
        for (int j = 0; j < 4; j++) {
            const __m512i wj = load32(w + j * ldw + k, rem);
            for (int i = 0; i < mr; i++) v[4 * i + j] = dp(v[4 * i + j], ar[i], wj);
        }
    }
    const __m512 y = reduce16(v);   // lane 4i + j = C[i][j]
    float out[16];
    _mm512_storeu_ps(out, y);
    for (int i = 0; i < mr; i++) {
        __m128 r = _mm_loadu_ps(out + 4 * i);
        if (accumulate) r = _mm_add_ps(r, _mm_loadu_ps(c + i * ldc));
        _mm_storeu_ps(c + i * ldc, r);
    }
}

/// One dot product over k0..<k1 (two accumulator chains).
static inline float dot1(const uint16_t *a, const uint16_t *w, long k0, long k1) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    long k = k0;
    for (; k + 64 <= k1; k += 64) {
        s0 = dp(s0, _mm512_loadu_si512((const void *)(a + k)), _mm512_loadu_si512((const void *)(w + k)));
        s1 = dp(s1, _mm512_loadu_si512((const void *)(a + k + 32)), _mm512_loadu_si512((const void *)(w + k + 32)));
    }
    for (; k < k1; k += 32) s0 = dp(s0, load32(a + k, k1 - k), load32(w + k, k1 - k));
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

void hxa_gemm_bf16_avx512bf16(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc,
                              long M, long n0, long n1, int accumulate) {
    const long tiles = (K + KC - 1) / KC;
    const long kc = ((K + tiles - 1) / tiles + 31) & ~31L;   // equal tiles, multiples of 32
    long nb = ((256L << 10) / (2 * (kc < 1 ? 1 : kc))) & ~3L;   // W rows per n block: ≤ 256 KiB
    if (nb < 4) nb = 4;
    for (long k0 = 0; k0 < K; k0 += kc) {
        const long k1 = k0 + kc < K ? k0 + kc : K;
        const int acc = accumulate || k0 > 0;
        for (long b0 = n0; b0 < n1; b0 += nb) {
            const long b1 = b0 + nb < n1 ? b0 + nb : n1;
            const long b4 = b0 + ((b1 - b0) & ~3L);
            long m = 0;
            for (; m + 4 <= M; m += 4) {
                for (long n = b0; n < b4; n += 4)
                    block4(4, a + m * lda, lda, w + n * ldw, ldw, k0, k1, c + m * ldc + n, ldc, acc);
            }
            const long mr = M - m;
            for (long n = b0; n < b4; n += 4) {
                if (mr == 3) block4(3, a + m * lda, lda, w + n * ldw, ldw, k0, k1, c + m * ldc + n, ldc, acc);
                else if (mr == 2) block4(2, a + m * lda, lda, w + n * ldw, ldw, k0, k1, c + m * ldc + n, ldc, acc);
                else if (mr == 1) block4(1, a + m * lda, lda, w + n * ldw, ldw, k0, k1, c + m * ldc + n, ldc, acc);
            }
            for (long n = b4; n < b1; n++) {   // the last 1-3 rows of W
                for (long i = 0; i < M; i++) {
                    const float s = dot1(a + i * lda, w + n * ldw, k0, k1);
                    c[i * ldc + n] = acc ? c[i * ldc + n] + s : s;
                }
            }
        }
    }
}

void hxa_gemv_bf16_avx512bf16(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1) {
    for (long r = r0; r < r1; r++) {
        const uint16_t *wr = w + r * ldw;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
        long k = 0;
        for (; k + 128 <= K; k += 128) {
            s0 = dp(s0, _mm512_loadu_si512((const void *)(wr + k)), _mm512_loadu_si512((const void *)(x + k)));
            s1 = dp(s1, _mm512_loadu_si512((const void *)(wr + k + 32)), _mm512_loadu_si512((const void *)(x + k + 32)));
            s2 = dp(s2, _mm512_loadu_si512((const void *)(wr + k + 64)), _mm512_loadu_si512((const void *)(x + k + 64)));
            s3 = dp(s3, _mm512_loadu_si512((const void *)(wr + k + 96)), _mm512_loadu_si512((const void *)(x + k + 96)));
        }
        for (; k < K; k += 32) s0 = dp(s0, load32(wr + k, K - k), load32(x + k, K - k));
        y[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    }
}

/// Peak: `iters` steps of 16 independent vdpbf16ps on registers (no loads);
/// returns a sum so the loop is not removed. 16·32·2 flops per step.
float hxa_bf16_peak_loop_avx512bf16(long iters) {
    __m512 v[16];
    for (int i = 0; i < 16; i++) v[i] = _mm512_set1_ps((float)i * 1e-3f);
    const __m512i a = _mm512_set1_epi16(0x3f80), b = _mm512_set1_epi16(0x2f80);   // 1 and 2^-32
    for (long t = 0; t < iters; t++) {
        for (int i = 0; i < 16; i++) v[i] = dp(v[i], a, b);
        __asm__ volatile("" : "+v"(v[0]), "+v"(v[1]), "+v"(v[2]), "+v"(v[3]), "+v"(v[4]), "+v"(v[5]), "+v"(v[6]), "+v"(v[7]));
    }
    float out[16];
    _mm512_storeu_ps(out, reduce16(v));
    float s = 0;
    for (int i = 0; i < 16; i++) s += out[i];
    return s;
}

#pragma clang attribute pop
#endif

// vec.h: the element type `real` and the vector type `vf` (LANES reals) of
// one build, and their helpers, in clang vector extensions only (no
// intrinsics: the same source is SSE2/NEON in the portable build and
// AVX2/AVX-512 in the others).
// Included by isa_{portable,avx2,avx512}.c (float: LANES 8, 8, 16) and
// isa_{portable,avx2,avx512}_f64.c (double, HXA_F64 1: LANES 4, 4, 8 — the
// same register width); the AVX builds inside a
// `#pragma clang attribute push(target(...))` region, so every helper is
// compiled for that ISA too. HXA_FMA (set by the build): whether the target
// has fused multiply-add. Every kernel body is written once on `real`/`vf`;
// only the polynomial approximations of exp (here), log and tanh
// (rows_body.h) have one set of coefficients per element type.
#if HXA_F64
typedef double real;
typedef int64_t ireal;    // integer of the width of real (masks, bit tricks)
typedef uint64_t ureal;
typedef hxa_wkv_args_f64 wkv_args;
#else
typedef float real;
typedef int32_t ireal;
typedef uint32_t ureal;
typedef hxa_wkv_args wkv_args;
#endif
typedef real vf __attribute__((ext_vector_type(LANES)));
typedef uint16_t vh __attribute__((ext_vector_type(LANES)));
typedef ureal vu __attribute__((ext_vector_type(LANES)));
typedef ireal vi __attribute__((ext_vector_type(LANES)));
typedef float vfs __attribute__((ext_vector_type(LANES)));   // LANES floats (bf16 widening)
typedef uint32_t vus __attribute__((ext_vector_type(LANES)));
/// Elements of one 64-byte cache line (the prefetch stride).
#define HXA_LINE ((long)(64 / sizeof(real)))

static inline vf ld(const real *p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void stv(real *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
static inline vf splat(real x) { return (vf)x; }
/// a*b + c: one rounding where the target has FMA (AVX2, AVX-512, arm64);
/// on baseline x86-64 (SSE2, no FMA) a multiply and an add, since a fused
/// multiply-add there is a libm call per lane.
#if HXA_FMA
static inline vf fma_(vf a, vf b, vf c) { return __builtin_elementwise_fma(a, b, c); }
#else
static inline vf fma_(vf a, vf b, vf c) { return a * b + c; }
#endif
/// Lanes summed pairwise (halves, then quarters, ...).
static inline real hsum(vf v) {
    real t[LANES];
    __builtin_memcpy(t, &v, sizeof t);
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
    return t[0];
}
/// bfloat16 bits -> float (the bits are the top half of the float), then to real (exact).
static inline vf ldbf(const uint16_t *p) {
    vh h;
    __builtin_memcpy(&h, p, sizeof h);
    vus u = __builtin_convertvector(h, vus) << 16;
#if HXA_F64
    return __builtin_convertvector(__builtin_bit_cast(vfs, u), vf);
#else
    return __builtin_bit_cast(vf, u);
#endif
}
static inline real bf1(uint16_t b) { return (real)__builtin_bit_cast(float, (uint32_t)b << 16); }
#if HXA_F64
/// e^x lane-wise (double): Cody-Waite reduction by ln 2 (ln 2 split in a
/// 32-bit head, so n·head is exact without FMA), Taylor polynomial of degree
/// 13 on |r| <= ln2/2 (truncation < 5e-18 relative), 2^n in two halves so
/// results underflow gracefully. About 1 ulp; e^(>709.8) = +inf,
/// e^(<-746) = 0, NaN -> NaN.
static inline vf vexp_(vf x0) {
    vf x = x0;
    x = x < -746.0 ? (vf)-746.0 : x;
    x = x > 710.0 ? (vf)710.0 : x;
    const vf magic = (vf)6755399441055744.0;           // 1.5*2^52: adding it rounds to an integer
    const vf shifted = fma_(x, (vf)1.4426950408889634, magic);
    const vf n = shifted - magic;
    const vi ni = __builtin_bit_cast(vi, shifted) - __builtin_bit_cast(vi, magic);
    vf r = fma_(n, (vf)-6.93147180369123816490e-01, x);
    r = fma_(n, (vf)-1.90821492927058770002e-10, r);
    vf p = (vf)(1.0 / 6227020800.0);                   // 1/13!
    p = fma_(p, r, (vf)(1.0 / 479001600.0));
    p = fma_(p, r, (vf)(1.0 / 39916800.0));
    p = fma_(p, r, (vf)(1.0 / 3628800.0));
    p = fma_(p, r, (vf)(1.0 / 362880.0));
    p = fma_(p, r, (vf)(1.0 / 40320.0));
    p = fma_(p, r, (vf)(1.0 / 5040.0));
    p = fma_(p, r, (vf)(1.0 / 720.0));
    p = fma_(p, r, (vf)(1.0 / 120.0));
    p = fma_(p, r, (vf)(1.0 / 24.0));
    p = fma_(p, r, (vf)(1.0 / 6.0));
    p = fma_(p, r, (vf)0.5);
    const vf e = fma_(p, r * r, r) + 1.0;
    const vi n1 = ni >> 1, n2 = ni - n1;
    const vf y = e * __builtin_bit_cast(vf, (n1 + 1023) << 52) * __builtin_bit_cast(vf, (n2 + 1023) << 52);
    return x0 != x0 ? x0 : y;   // NaN stays NaN
}
#else
/// e^x lane-wise: Cody-Waite reduction by ln 2, degree-6 polynomial, 2^n in
/// two halves so results underflow gracefully down to e^-104. Max error about
/// 1 ulp over [-87, 88]; e^(>88.7) = +inf, e^(<-104) = 0, NaN -> NaN.
static inline vf vexp_(vf x0) {
    vf x = x0;
    x = x < -104.0f ? (vf)-104.0f : x;
    x = x > 89.0f ? (vf)89.0f : x;
    const vf magic = (vf)12582912.0f;                  // 1.5*2^23: adding it rounds to an integer
    const vf shifted = fma_(x, (vf)1.44269504f, magic);
    const vf n = shifted - magic;
    const vi ni = __builtin_bit_cast(vi, shifted) - __builtin_bit_cast(vi, magic);
    vf r = fma_(n, (vf)-0.693359375f, x);
    r = fma_(n, (vf)2.12194440e-4f, r);
    vf p = (vf)1.98756915e-4f;
    p = fma_(p, r, (vf)1.39819995e-3f);
    p = fma_(p, r, (vf)8.33345190e-3f);
    p = fma_(p, r, (vf)4.16657959e-2f);
    p = fma_(p, r, (vf)1.66666655e-1f);
    p = fma_(p, r, (vf)5.00000012e-1f);
    const vf e = fma_(p, r * r, r) + 1.0f;
    const vi n1 = ni >> 1, n2 = ni - n1;
    const vf y = e * __builtin_bit_cast(vf, (n1 + 127) << 23) * __builtin_bit_cast(vf, (n2 + 127) << 23);
    return x0 != x0 ? x0 : y;   // NaN stays NaN
}
#endif

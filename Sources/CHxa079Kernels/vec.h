// vec.h: the vector type of one build (LANES floats) and its helpers, in
// clang vector extensions only (no intrinsics: the same source is SSE2/NEON
// in the portable build and AVX2/AVX-512 in the others).
// Included by isa_portable.c (LANES 8), isa_avx2.c (LANES 8) and
// isa_avx512.c (LANES 16); the last two inside a
// `#pragma clang attribute push(target(...))` region, so every helper is
// compiled for that ISA too. HXA_FMA (set by the build): whether the target
// has fused multiply-add.
typedef float vf __attribute__((ext_vector_type(LANES)));
typedef uint16_t vh __attribute__((ext_vector_type(LANES)));
typedef uint32_t vu __attribute__((ext_vector_type(LANES)));
typedef int32_t vi __attribute__((ext_vector_type(LANES)));

static inline vf ld(const float *p) { vf v; __builtin_memcpy(&v, p, sizeof v); return v; }
static inline void stv(float *p, vf v) { __builtin_memcpy(p, &v, sizeof v); }
static inline vf splat(float x) { return (vf)x; }
/// a*b + c: one rounding where the target has FMA (AVX2, AVX-512, arm64);
/// on baseline x86-64 (SSE2, no FMA) a multiply and an add, since a fused
/// multiply-add there is a libm call per lane.
#if HXA_FMA
static inline vf fma_(vf a, vf b, vf c) { return __builtin_elementwise_fma(a, b, c); }
#else
static inline vf fma_(vf a, vf b, vf c) { return a * b + c; }
#endif
/// Lanes summed pairwise (halves, then quarters, ...).
static inline float hsum(vf v) {
    float t[LANES];
    __builtin_memcpy(t, &v, sizeof t);
    for (int w = LANES / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++) t[l] = t[l] + t[l + w];
    return t[0];
}
/// bfloat16 bits -> float: the bits are the top half of the float.
static inline vf ldbf(const uint16_t *p) {
    vh h;
    __builtin_memcpy(&h, p, sizeof h);
    vu u = __builtin_convertvector(h, vu) << 16;
    return __builtin_bit_cast(vf, u);
}
static inline float bf1(uint16_t b) { return __builtin_bit_cast(float, (uint32_t)b << 16); }
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

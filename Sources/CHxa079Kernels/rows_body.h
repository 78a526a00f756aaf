// rows_body.h: element-wise and row-wise activations of the fast path for
// one build: the float (double) twins of the scalars in
// Hxa079Reference/Scalar.swift (sigmoid, softplus, silu, RealModule's
// exp/tanh) as polynomial approximations, vexp_ from vec.h; the polynomials
// of log and tanh have one set of coefficients per element type (errors in
// ulps are measured in Tests/Hxa079FastTests/ElementwiseKernelTests.swift).

/// y[i] = silu(g[i])·u[i] = g·u/(1 + e^−g), SPEC (32); y may alias g or u.
void SFX(silu_mul)(const real *g, const real *u, real *y, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        const vf x = ld(g + i);
        stv(y + i, x / ((real)1 + vexp_(-x)) * ld(u + i));
    }
    for (; i < n; i++) {
        real t[LANES] = {0};
        t[0] = g[i];
        const vf e = vexp_(-ld(t));
        y[i] = g[i] / ((real)1 + e[0]) * u[i];
    }
}

/// Softmax of row[0..<valid]·scale in place (max subtracted), row[valid..<total]
/// zeroed (future positions), SPEC (29)–(30).
void SFX(softmax_row)(real *row, long valid, long total, real scale) {
    vf mx = (vf)(-(real)__builtin_inff());
    long i = 0;
    for (; i + LANES <= valid; i += LANES) {
        const vf x = ld(row + i) * scale;
        stv(row + i, x);
        mx = x > mx ? x : mx;
    }
    real m = -(real)__builtin_inff();
    for (int l = 0; l < LANES; l++) m = mx[l] > m ? mx[l] : m;
    for (; i < valid; i++) { row[i] *= scale; m = row[i] > m ? row[i] : m; }
    vf acc = 0;
    i = 0;
    for (; i + LANES <= valid; i += LANES) {
        const vf e = vexp_(ld(row + i) - m);
        stv(row + i, e);
        acc += e;
    }
    real sum = hsum(acc);
    for (; i < valid; i++) {
        real t[LANES] = {0};
        t[0] = row[i] - m;
        const real e = vexp_(ld(t))[0];
        row[i] = e;
        sum += e;
    }
    i = 0;
    for (; i + LANES <= valid; i += LANES) stv(row + i, ld(row + i) / sum);
    for (; i < valid; i++) row[i] /= sum;
    for (i = valid; i < total; i++) row[i] = 0;
}

#if HXA_F64
/// ln(x) lane-wise for x >= 1 (finite), double: exponent split, mantissa m in
/// [sqrt(1/2), sqrt(2)), f = m - 1, s = f/(2 + f) and fdlibm's log1p
/// polynomial in s² (Lg1..Lg7, e_log.c: error < 1 ulp).
static inline vf SFX(log_at_least_one)(vf x) {
    const vi b = __builtin_bit_cast(vi, x);
    vi e = (b >> 52) - 1023;
    vf m = __builtin_bit_cast(vf, (b & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);   // [1, 2)
    const vi big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e = e + (big & 1);
    const vf f = m - 1.0;
    const vf s = f / (2.0 + f), z = s * s, w = z * z;
    const vf t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    const vf t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01
                  + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    const vf R = t2 + t1, hfsq = 0.5 * f * f;
    const vf k = __builtin_convertvector(e, vf);
    return k * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + k * 1.90821492927058770002e-10)) - f);
}
#else
/// ln(x) lane-wise for x >= 1 (finite): exponent split, mantissa in
/// [sqrt(1/2), sqrt(2)), degree-8 polynomial.
static inline vf SFX(log_at_least_one)(vf x) {
    const vi b = __builtin_bit_cast(vi, x);
    vi e = (b >> 23) - 127;
    vf m = __builtin_bit_cast(vf, (b & 0x007FFFFF) | 0x3F800000);   // [1, 2)
    const vi big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = e + (big & 1);
    const vf f = m - 1.0f;
    const vf z = f * f;
    vf p = (vf)7.0376836e-2f;
    p = p * f + -1.1514610e-1f;
    p = p * f + 1.1676999e-1f;
    p = p * f + -1.2420141e-1f;
    p = p * f + 1.4249323e-1f;
    p = p * f + -1.6668058e-1f;
    p = p * f + 2.0000714e-1f;
    p = p * f + -2.4999994e-1f;
    p = p * f + 3.3333331e-1f;
    const vf y = p * f * z - 0.5f * z + f;
    const vf ef = __builtin_convertvector(e, vf);
    return ef * -2.12194440e-4f + y + ef * 0.693359375f;
}
#endif

/// log σ(y) = −softplus(−y) = min(y, 0) − log1p(e^−|y|), log1p of u in
/// [0, 1] with the rounding of 1 + u corrected.
static inline vf SFX(log_sigmoid)(vf y) {
    const vf ay = y < 0 ? -y : y;
    const vf u = vexp_(-ay);
    const vf w = (real)1 + u;
    const vf correction = (u - (w - (real)1)) / w;
    const vf mn = y < 0 ? y : (vf)0;
    return mn - (SFX(log_at_least_one)(w) + correction);
}

/// σ(z) = 1 / (1 + e^−z).
static inline vf SFX(sigmoid)(vf z) { return (real)1 / ((real)1 + vexp_(-z)); }

#if HXA_F64
/// tanh(z), double: odd Taylor polynomial (through z^21) for |z| < 0.25
/// (truncation < 3e-18 relative), 1 − 2/(e^{2|z|} + 1) above, sign restored.
static inline vf SFX(tanh)(vf z) {
    const vf a = z < 0 ? -z : z;
    const vf s = a * a;
    vf p = (vf)9.6915379569294503256e-5;
    p = p * s + -2.3912911424355248149e-4;
    p = p * s + 5.9002744094558598138e-4;
    p = p * s + -1.4558343870513182682e-3;
    p = p * s + 3.5921280365724810169e-3;
    p = p * s + -8.8632355299021965689e-3;
    p = p * s + 2.1869488536155202822e-2;
    p = p * s + -5.3968253968253968254e-2;
    p = p * s + 1.3333333333333333333e-1;
    p = p * s + -3.3333333333333333333e-1;
    const vf small = p * s * a + a;
    const vf large = 1.0 - 2.0 / (vexp_(a + a) + 1.0);
    const vf t = a < 0.25 ? small : large;
    return __builtin_bit_cast(vf, __builtin_bit_cast(vu, t) | (__builtin_bit_cast(vu, z) & 0x8000000000000000ULL));
}
#else
/// tanh(z): odd polynomial for |z| < 0.625, 1 − 2/(e^{2|z|} + 1) above, sign restored.
static inline vf SFX(tanh)(vf z) {
    const vf a = z < 0 ? -z : z;
    const vf s = a * a;
    vf p = (vf)-5.7049887e-3f;
    p = p * s + 2.0639089e-2f;
    p = p * s + -5.3739716e-2f;
    p = p * s + 1.3331442e-1f;
    p = p * s + -3.3333282e-1f;
    const vf small = p * s * a + a;
    const vf large = 1.0f - 2.0f / (vexp_(a + a) + 1.0f);
    const vf t = a < 0.625f ? small : large;
    return __builtin_bit_cast(vf, __builtin_bit_cast(vu, t) | (__builtin_bit_cast(vu, z) & 0x80000000u));
}
#endif

/// One lane set of op `op` (hxa_unary_op).
static inline vf SFX(unary1)(int op, vf x) {
    switch (op) {
    case HXA_EXP: return vexp_(x);
    case HXA_SIGMOID: return SFX(sigmoid)(x);
    case HXA_TANH: return SFX(tanh)(x);
    case HXA_SILU: return x / ((real)1 + vexp_(-x));   // as silu_mul
    default: return -SFX(log_sigmoid)(-x);   // HXA_SOFTPLUS
    }
}

/// The first n < LANES floats at p, zeros elsewhere; and the matching store.
static inline vf SFX(ld_part)(const real *p, long n) {
    real t[LANES] = {0};
    for (long l = 0; l < n; l++) t[l] = p[l];
    return ld(t);
}
static inline void SFX(st_part)(real *p, vf v, long n) {
    for (long l = 0; l < n; l++) p[l] = v[l];
}

/// SPEC (14) and (13) on one row of n values, in place: w = log σ(w0 + w) − 0.5
/// (= −softplus(−(w0 + z)) − 0.5), a = σ(a0 + a).
void SFX(decay_iclr_row)(const real *w0, const real *a0, real *w, real *a, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        stv(w + i, SFX(log_sigmoid)(ld(w0 + i) + ld(w + i)) - (real)0.5);
        stv(a + i, SFX(sigmoid)(ld(a0 + i) + ld(a + i)));
    }
    if (i < n) {
        const long r = n - i;
        SFX(st_part)(w + i, SFX(log_sigmoid)(SFX(ld_part)(w0 + i, r) + SFX(ld_part)(w + i, r)) - (real)0.5, r);
        SFX(st_part)(a + i, SFX(sigmoid)(SFX(ld_part)(a0 + i, r) + SFX(ld_part)(a + i, r)), r);
    }
}

/// SPEC (12), (15), (16), (17) for one head of N values, k the expanded key
/// (already copied), w and a from (13)–(14), `norm` = max(‖k‖, 1e-12):
/// kk = k/norm, k̃ = k·(1 − w + a), g = −e^w, d = e^g, α = −kk, β = kk·a.
void SFX(wkv_inputs)(const real *k, const real *w, const real *a, real norm, real *kk, real *ks, real *g,
                     real *d, real *alpha, real *beta, long n) {
    for (long i = 0; i < n; i += LANES) {
        const long r = n - i < LANES ? n - i : LANES;
        const vf kv = r == LANES ? ld(k + i) : SFX(ld_part)(k + i, r);
        const vf wv = r == LANES ? ld(w + i) : SFX(ld_part)(w + i, r);
        const vf av = r == LANES ? ld(a + i) : SFX(ld_part)(a + i, r);
        const vf kkv = kv / norm;
        const vf gv = -vexp_(wv);
        const vf out[6] = {kkv, kv * ((real)1 - wv + av), gv, vexp_(gv), -kkv, kkv * av};
        real *dst[6] = {kk, ks, g, d, alpha, beta};
        for (int f = 0; f < 6; f++) {
            if (r == LANES) stv(dst[f] + i, out[f]);
            else SFX(st_part)(dst[f] + i, out[f], r);
        }
    }
}

/// SPEC (9)/(10): out = raw + (first − raw)·σ(bias + z) over n values.
void SFX(residual_mix)(const real *raw, const real *first, const real *z, const real *bias, real *out, long n) {
    for (long i = 0; i < n; i += LANES) {
        const long r = n - i < LANES ? n - i : LANES;
        if (r == LANES) {
            const vf x = ld(raw + i);
            stv(out + i, x + (ld(first + i) - x) * SFX(sigmoid)(ld(bias + i) + ld(z + i)));
        } else {
            const vf x = SFX(ld_part)(raw + i, r);
            SFX(st_part)(out + i, x + (SFX(ld_part)(first + i, r) - x) *
                         SFX(sigmoid)(SFX(ld_part)(bias + i, r) + SFX(ld_part)(z + i, r)), r);
        }
    }
}

/// y[i] = op(x[i]) for i < n (y may alias x).
void SFX(unary)(int op, const real *x, real *y, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) stv(y + i, SFX(unary1)(op, ld(x + i)));
    if (i < n) SFX(st_part)(y + i, SFX(unary1)(op, SFX(ld_part)(x + i, n - i)), n - i);
}

// wkv_chunked_body.h: the chunked WKV, SPEC.md (40)-(48), for one build
// (element type real; contract in include/hxa079_kernels.h and
// Sources/Hxa079Fast/WKVKernels.swift); the function of the recurrence with a
// different rounding order. Layout sizes count elements (rows padded to 16).
//
// The inputs of a chunk are first gathered for a group of heads (ck_group:
// one pass over each step row, padded to multiples of 16; the next block's
// rows are prefetched while this one computes, and the outputs leave through
// streaming stores). Then per chunk of n <= L steps of one head, on the
// transposed state St [K][V] (lanes over the value index):
//  1. decay vectors by running products of d (every factor <= 1; no exp, no
//     division, (47)): Ad_i = α_i ⊙ exp(G_{i-1}), Qd_i = r_i ⊙ exp(G_i),
//     Kt_j, Bt_j = k~_j, β_j ⊙ exp(G_n - G_j) and exp(G_n) ((40), (46));
//  2. the interaction matrices (41)-(43a), lanes over the earlier step j
//     (CK_IL lanes: 8 floats in every float build — the lower triangle wastes
//     fewer lanes than 16 — and one register of doubles), the
//     relative decays carried as running products kE = k~_j ⊙ Π d_m, bE
//     likewise; upper-triangle lanes are never formed, only masked to 0;
//  3. [R; O] = [Ad; Qd]·St_0 (one register-blocked product, both reads of
//     the old state in one pass; (44), (45));
//  4. forward substitution (44): Sa_i = R_i + Σ_{j<i} A_ak[i,j]·v_j +
//     A_ab[i,j]·Sa_j, and (45) O_i += Σ_{j<=i} A_qk[i,j]·v_j + A_qb[i,j]·Sa_j;
//  5. St_n = diag(exp G_n)·St_0 + [Kt; Bt]^T·[Vc; Sa] (46), the second
//     register-blocked product, in place.

#if HXA_F64
#define CK_IL LANES /* lanes of the interaction matrices' rows */
#else
#define CK_IL 8
#endif
typedef real vf8 __attribute__((ext_vector_type(CK_IL)));
typedef real vf4 __attribute__((ext_vector_type(16 / sizeof(real))));   /* 16 bytes: one streaming store */
typedef ireal vi8 __attribute__((ext_vector_type(CK_IL)));

#if LANES == 16 || (HXA_F64 && LANES == 8) /* AVX-512: 32 registers */
#define CK_MR 4 /* rows of a product tile */
#define CK_NB 4 /* vectors (of LANES values) of a product tile */
#define CK_GV 4 /* vectors per pass of the substitution */
#else /* AVX2, portable */
#define CK_MR 4
#define CK_NB 2
#define CK_GV 2
#endif

#define CK_INLINE static inline __attribute__((always_inline))

/// The first n (0 <= n) floats at p, zeros in the other lanes.
CK_INLINE vf ck_ldn(const real *p, long n) {
    if (n >= LANES) return ld(p);
    real t[LANES] = {0};
    if (n > 0) __builtin_memcpy(t, p, (size_t)n * sizeof(real));
    return ld(t);
}
/// Stores the first n (0 <= n) lanes of v at p.
CK_INLINE void ck_stn(real *p, vf v, long n) {
    if (n >= LANES) { stv(p, v); return; }
    real t[LANES];
    stv(t, v);
    if (n > 0) __builtin_memcpy(p, t, (size_t)n * sizeof(real));
}
CK_INLINE vf8 ld8(const real *p) { vf8 v; __builtin_memcpy(&v, p, sizeof v); return v; }
CK_INLINE void st8(real *p, vf8 v) { __builtin_memcpy(p, &v, sizeof v); }
#if HXA_FMA
CK_INLINE vf8 fma8(vf8 a, vf8 b, vf8 c) { return __builtin_elementwise_fma(a, b, c); }
#else
CK_INLINE vf8 fma8(vf8 a, vf8 b, vf8 c) { return a * b + c; }   /* as fma_ in vec.h */
#endif
CK_INLINE vf8 sel8(vi8 m, vf8 a, vf8 b) {
    return __builtin_bit_cast(vf8, (__builtin_bit_cast(vi8, a) & m) | (__builtin_bit_cast(vi8, b) & ~m));
}
CK_INLINE vf8 and8(vf8 a, vi8 m) { return __builtin_bit_cast(vf8, __builtin_bit_cast(vi8, a) & m); }

/// Orders the streaming stores before the caller's synchronisation (x86:
/// sfence, SSE and so baseline; elsewhere a release fence).
CK_INLINE void ck_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/// Prefetch cursor over the input and output rows of the next block (chunk c,
/// n steps, heads g0..g0+G), fetched while this block computes so that the
/// memory traffic overlaps the arithmetic: per step, the lines of r, d, k~, α,
/// β (G·K elements each, contiguous) and of v (G·V elements).
typedef struct {
    const wkv_args *a;
    long c, n, g0, G;
    long q, q1, t, rem, lk, ls, per;
} ck_pf;

/// Restricts the cursor to share s of `shares` of the block's lines, to be
/// issued over about `calls` ticks.
static void ck_pf_begin(ck_pf *pf, long s, long shares, long calls) {
    if (!pf) return;
    if (pf->n <= 0) { pf->q = pf->q1 = 0; pf->per = 0; return; }
    const wkv_args *a = pf->a;
    pf->lk = (pf->G * a->key_size + HXA_LINE - 1) / HXA_LINE;
    const long lv = (pf->G * a->value_size + HXA_LINE - 1) / HXA_LINE;
    pf->ls = 5 * pf->lk + lv;
    const long total = pf->n * pf->ls;
    pf->q = s * total / shares;
    pf->q1 = (s + 1) * total / shares;
    pf->t = pf->q / pf->ls;
    pf->rem = pf->q % pf->ls;
    pf->per = (pf->q1 - pf->q + calls - 1) / (calls < 1 ? 1 : calls);
}

/// Prefetches the next `count` lines of the cursor.
static void ck_pf_issue(ck_pf *pf, long count) {
    const wkv_args *a = pf->a;
    const long lk = pf->lk, ls = pf->ls;
    for (; count > 0 && pf->q < pf->q1; count--, pf->q++) {
        const long step = pf->c + pf->t, rem = pf->rem;
        const real *p;
        if (rem < 5 * lk) {
            const long f = rem / lk;
            const real *dg = a->decay ? a->decay : a->log_decay;
            const real *src = f == 0 ? a->r : f == 1 ? dg : f == 2 ? a->k : f == 3 ? a->alpha : a->beta;
            p = src + (step * a->heads + pf->g0) * a->key_size + HXA_LINE * (rem - f * lk);
        } else {
            const long lv = ls - 5 * lk, f = (rem - 5 * lk) / lv;
            p = a->v + (step * a->heads + pf->g0) * a->value_size + HXA_LINE * (rem - 5 * lk - f * lv);
        }
        __builtin_prefetch(p);
        if (++pf->rem == ls) { pf->rem = 0; pf->t++; }
    }
}

CK_INLINE void ck_pf_tick(ck_pf *pf) {
    if (pf && pf->q < pf->q1) ck_pf_issue(pf, pf->per);
}

/// One tile of C = A·B (zero) or C = diag(scale)·C + A·B (scale NULL: 1):
/// mr rows × nb vectors of C (ldc), A[r][kd] at A[r·rs + kd·cs], B [kd][ldb].
CK_INLINE void ck_tile(const int mr, const int nb, long kdn, const real *A, long rs, long cs,
                       const real *B, long ldb, real *C, long ldc, int zero, const real *scale) {
    vf acc[CK_MR][CK_NB];
    for (int r = 0; r < mr; r++)
        for (int b = 0; b < nb; b++) {
            if (zero) { acc[r][b] = 0; continue; }
            const vf c = ld(C + r * ldc + b * LANES);
            acc[r][b] = scale ? c * splat(scale[r]) : c;
        }
    for (long kd = 0; kd < kdn; kd++) {
        const real *bp = B + kd * ldb, *ap = A + kd * cs;
        vf bv[CK_NB];
        for (int b = 0; b < nb; b++) bv[b] = ld(bp + b * LANES);
        for (int r = 0; r < mr; r++) {
            const vf av = splat(ap[r * rs]);
            for (int b = 0; b < nb; b++) acc[r][b] = fma_(av, bv[b], acc[r][b]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int b = 0; b < nb; b++) stv(C + r * ldc + b * LANES, acc[r][b]);
}

#define CK_TILE(MRV, NBV)                                                                       \
    ck_tile(MRV, NBV, kdn, A + r0 * rs, rs, cs, B + c0, ldb, C + r0 * ldc + c0, ldc, zero,      \
            scale ? scale + r0 : 0)
#define CK_TILE_ROWS(NBV)                                                                       \
    do {                                                                                        \
        long r0 = 0;                                                                            \
        for (; r0 + CK_MR <= m; r0 += CK_MR) { ck_pf_tick(pf); CK_TILE(CK_MR, NBV); }          \
        switch (m - r0) {                                                                       \
        case 1: CK_TILE(1, NBV); break;                                                         \
        case 2: CK_TILE(2, NBV); break;                                                         \
        case 3: CK_TILE(3, NBV); break;                                                         \
        default: break;                                                                         \
        }                                                                                       \
    } while (0)

/// C [m][ncols] (ldc) = A·B (zero) or diag(scale)·C + A·B, with A[r][kd] at
/// A[r·rs + kd·cs] (kd < kdn) and B [kdn][ncols] (ldb); ncols a multiple of
/// LANES. Tiles of CK_MR rows × CK_NB vectors, B's block reused across rows.
static void ck_gemm(long m, long kdn, const real *A, long rs, long cs, const real *B, long ldb,
                    real *C, long ldc, long ncols, int zero, const real *scale, ck_pf *pf) {
    long c0 = 0;
    for (; c0 + CK_NB * LANES <= ncols; c0 += CK_NB * LANES) CK_TILE_ROWS(CK_NB);
    for (; c0 < ncols; c0 += LANES) CK_TILE_ROWS(1);
}

/// Lanes off..off+CK_IL (earlier step j) of row i of the interaction matrices,
/// from kE[κ] = k~_j ⊙ Π_{m=j+1..i} d_m and bE likewise (lanes j < i valid on
/// entry; lane i is set here to k~_i, β_i when `insert`): A_qk[i], A_qb[i]
/// ((41), (42), j <= i) and A_ak[i+1], A_ab[i+1] ((43), (43a), j < i+1), lanes
/// j > i zeroed; then kE, bE advance by d_{i+1}.
CK_INLINE void ck_interact(const int insert, long i, long off, long K, long nl, real *kE, real *bE,
                           const real *kk, const real *be, const real *rr, const real *al1,
                           const real *d1, real *qk, real *qb, real *ak, real *ab) {
    vi8 lane;
    for (int l = 0; l < CK_IL; l++) lane[l] = (ireal)off + l;
    const vi8 at = lane == (ireal)i, le = lane <= (ireal)i;
    vf8 q0 = 0, q1 = 0, p0 = 0, p1 = 0, a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    long j = 0;
    for (; j + 1 < K; j += 2) {
        real *x0p = kE + j * nl + off, *y0p = bE + j * nl + off;
        vf8 x0 = ld8(x0p), y0 = ld8(y0p), x1 = ld8(x0p + nl), y1 = ld8(y0p + nl);
        if (insert) {
            x0 = sel8(at, (vf8)kk[j], x0); y0 = sel8(at, (vf8)be[j], y0);
            x1 = sel8(at, (vf8)kk[j + 1], x1); y1 = sel8(at, (vf8)be[j + 1], y1);
        }
        const vf8 r0 = rr[j], r1 = rr[j + 1], c0 = al1[j], c1 = al1[j + 1];
        q0 = fma8(x0, r0, q0); p0 = fma8(y0, r0, p0); a0 = fma8(x0, c0, a0); b0 = fma8(y0, c0, b0);
        q1 = fma8(x1, r1, q1); p1 = fma8(y1, r1, p1); a1 = fma8(x1, c1, a1); b1 = fma8(y1, c1, b1);
        const vf8 e0 = d1[j], e1 = d1[j + 1];
        st8(x0p, x0 * e0); st8(y0p, y0 * e0); st8(x0p + nl, x1 * e1); st8(y0p + nl, y1 * e1);
    }
    if (j < K) {
        real *x0p = kE + j * nl + off, *y0p = bE + j * nl + off;
        vf8 x0 = ld8(x0p), y0 = ld8(y0p);
        if (insert) { x0 = sel8(at, (vf8)kk[j], x0); y0 = sel8(at, (vf8)be[j], y0); }
        const vf8 r0 = rr[j], c0 = al1[j];
        q0 = fma8(x0, r0, q0); p0 = fma8(y0, r0, p0); a0 = fma8(x0, c0, a0); b0 = fma8(y0, c0, b0);
        const vf8 e0 = d1[j];
        st8(x0p, x0 * e0); st8(y0p, y0 * e0);
    }
    st8(qk + off, and8(q0 + q1, le));
    st8(qb + off, and8(p0 + p1, le));
    st8(ak + off, and8(a0 + a1, le));
    st8(ab + off, and8(b0 + b1, le));
}

/// (44), (45) for one group of nv vectors (values off..) of row i, in place:
/// Sa_i = R_i + Σ_{j<i} (A_ak[i,j]·Vc_j + A_ab[i,j]·Sa_j), then
/// O_i += Σ_{j<=i} (A_qk[i,j]·Vc_j + A_qb[i,j]·Sa_j). Rows of stride ld_.
CK_INLINE void ck_subst(const int nv, long i, long off, long ld_, const real *vc, real *sa, real *o,
                        const real *aak, const real *aab, const real *aqk, const real *aqb) {
    vf x[CK_GV], y[CK_GV], xv[CK_GV], yv[CK_GV];
    for (int c = 0; c < nv; c++) {
        x[c] = ld(sa + i * ld_ + off + c * LANES);
        y[c] = ld(o + i * ld_ + off + c * LANES);
        xv[c] = 0;
        yv[c] = 0;
    }
    for (long j = 0; j < i; j++) {
        const vf s1 = splat(aab[j]), s2 = splat(aqb[j]), s3 = splat(aak[j]), s4 = splat(aqk[j]);
        const real *sj = sa + j * ld_ + off, *vj = vc + j * ld_ + off;
        for (int c = 0; c < nv; c++) {
            const vf ss = ld(sj + c * LANES), vv = ld(vj + c * LANES);
            x[c] = fma_(s1, ss, x[c]);
            y[c] = fma_(s2, ss, y[c]);
            xv[c] = fma_(s3, vv, xv[c]);
            yv[c] = fma_(s4, vv, yv[c]);
        }
    }
    const vf s2 = splat(aqb[i]), s4 = splat(aqk[i]);
    for (int c = 0; c < nv; c++) {
        const vf si = x[c] + xv[c];
        stv(sa + i * ld_ + off + c * LANES, si);
        const vf yi = fma_(s4, ld(vc + i * ld_ + off + c * LANES), fma_(s2, si, y[c] + yv[c]));
        stv(o + i * ld_ + off + c * LANES, yi);
    }
}

/// Scratch views of one call (layout in SFX(wkv_chunked_t)).
typedef struct {
    long Kp, Vp, nl, RS;
    real *Y, *A1, *KB, *kE, *bE, *Aqk, *Aqb, *Aak, *Aab, *edec, *zero, *in, *out;
} ck_scratch;

/// One chunk of n steps of one head on its transposed state S [K][ldS] (ldS >=
/// Vp, Vp columns used): inputs from the gathered records `in` (step i at
/// in + i·RS: r, d, k~, α, β padded to Kp, then v padded to Vp), outputs O
/// to `out` [n][Vp].
static void ck_chunk(const ck_scratch *w, long K, long n, const real *in, real *out, real *S, long ldS,
                     ck_pf *pf, long share, long shares) {
    const long Kp = w->Kp, Vp = w->Vp, nl = w->nl, RS = w->RS;
    real *Y = w->Y, *A1 = w->A1, *KB = w->KB, *kE = w->kE, *bE = w->bE, *edec = w->edec;
    real *Aqk = w->Aqk, *Aqb = w->Aqb, *Aak = w->Aak, *Aab = w->Aab;
    const real *zero = w->zero;
#define IR(i) (in + (i) * RS)
#define ID(i) (in + (i) * RS + Kp)
#define IK(i) (in + (i) * RS + 2 * Kp)
#define IA(i) (in + (i) * RS + 3 * Kp)
#define IB(i) (in + (i) * RS + 4 * Kp)
#define IV(i) (in + (i) * RS + 5 * Kp)
    real *Vc = Y, *Sa = Y + n * Vp, *O = Y + 2 * n * Vp;
    real *Ad = A1, *Qd = A1 + n * Kp, *Kt = KB, *Bt = KB + n * Kp;
    {
        const long nvb = (Vp + CK_NB * LANES - 1) / (CK_NB * LANES);
        ck_pf_begin(pf, share, shares, n + nvb * ((2 * n + CK_MR - 1) / CK_MR + (K + CK_MR - 1) / CK_MR));
    }

    // 1. (40) e = exp(G_i) = e·d_i running: Ad_i = α_i ⊙ exp(G_{i-1}), Qd_i = r_i ⊙ exp(G_i);
    // (46) t = exp(G_n - G_j) = Π_{m>j} d_m from the end: Kt_j = k~_j ⊙ t, Bt_j = β_j ⊙ t.
    for (long c = 0; c < Kp; c += LANES) {
        vf e = 1;
        for (long i = 0; i < n; i++) {
            stv(Ad + i * Kp + c, ld(IA(i) + c) * e);
            e = e * ld(ID(i) + c);
            stv(Qd + i * Kp + c, ld(IR(i) + c) * e);
        }
        stv(edec + c, e);
        vf t = 1;
        for (long i = n - 1; i >= 0; i--) {
            stv(Kt + i * Kp + c, ld(IK(i) + c) * t);
            stv(Bt + i * Kp + c, ld(IB(i) + c) * t);
            t = t * ld(ID(i) + c);
        }
    }
    for (long i = 0; i < n; i++)
        for (long c = 0; c < Vp; c += LANES) stv(Vc + i * Vp + c, ld(IV(i) + c));
    // 2. (41)-(43a): pass i gives rows i of A_qk, A_qb and rows i+1 of A_ak, A_ab.
    for (long i = 0; i < n; i++) {
        ck_pf_tick(pf);
        const real *kk = IK(i), *be = IB(i), *rr = IR(i);
        const int next = i + 1 < n;
        const real *al1 = next ? IA(i + 1) : zero, *d1 = next ? ID(i + 1) : zero;
        real *qk = Aqk + i * nl, *qb = Aqb + i * nl;
        real *ak = Aak + (next ? i + 1 : 0) * nl, *ab = Aab + (next ? i + 1 : 0) * nl;
        const long last = (i / CK_IL) * CK_IL;
        for (long off = 0; off < last; off += CK_IL)
            ck_interact(0, i, off, K, nl, kE, bE, kk, be, rr, al1, d1, qk, qb, ak, ab);
        ck_interact(1, i, last, K, nl, kE, bE, kk, be, rr, al1, d1, qk, qb, ak, ab);
    }
    // 3. (44), (45) products with the old state: [R; O] = [Ad; Qd]·St_0
    ck_gemm(2 * n, K, A1, Kp, 1, S, ldS, Sa, Vp, Vp, 1, 0, pf);
    // 4. (44) forward substitution for Sa, (45) the rest of O
    for (long i = 0; i < n; i++) {
        long off = 0;
        for (; off + CK_GV * LANES <= Vp; off += CK_GV * LANES)
            ck_subst(CK_GV, i, off, Vp, Vc, Sa, O, Aak + i * nl, Aab + i * nl, Aqk + i * nl, Aqb + i * nl);
        for (; off < Vp; off += LANES)
            ck_subst(1, i, off, Vp, Vc, Sa, O, Aak + i * nl, Aab + i * nl, Aqk + i * nl, Aqb + i * nl);
    }
    for (long i = 0; i < n; i++)
        for (long c = 0; c < Vp; c += LANES) stv(out + i * Vp + c, ld(O + i * Vp + c));
    // 5. (46): St_n = diag(exp G_n)·St_0 + Kt^T·Vc + Bt^T·Sa
    ck_gemm(K, 2 * n, KB, 1, Kp, Y, Vp, S, ldS, Vp, 0, edec, pf);
    if (pf) ck_pf_issue(pf, pf->q1 - pf->q);
#undef IR
#undef ID
#undef IK
#undef IA
#undef IB
#undef IV
}

/// Chunk c0 (n steps) of heads g0..<g1: gathers their inputs (each step row
/// of each input read once for the group, padded to Kp / Vp), runs the chunk
/// of each head on its state S + (h - g0)·hs [K][ldS], scatters the outputs.
static void ck_group(const wkv_args *a, const ck_scratch *w, long g0, long g1, long c0, long n,
                     real *S, long ldS, long hs, ck_pf *pf) {
    const long H = a->heads, K = a->key_size, V = a->value_size;
    const long Kp = w->Kp, Vp = w->Vp, RS = w->RS, G = g1 - g0;
    // a->decay NULL: d = exp(g) (17b) is evaluated here, while gathering
    // (padded lanes stay 0, as the loaded ones would)
    const int expDecay = a->decay == NULL;
    const real *src[5] = {a->r, expDecay ? a->log_decay : a->decay, a->k, a->alpha, a->beta};
    for (long i = 0; i < n; i++) {
        const long t = c0 + i;
        for (int f = 0; f < 5; f++) {
            const real *p = src[f] + (t * H + g0) * K;
            for (long g = 0; g < G; g++) {
                real *d = w->in + (g * n + i) * RS + f * Kp;
                if (f == 1 && expDecay) {
                    for (long c = 0; c < Kp; c += LANES) {
                        const vf e = vexp_(ck_ldn(p + g * K + c, K - c));
                        if (K - c >= LANES) stv(d + c, e);
                        else { stv(d + c, (vf)0); ck_stn(d + c, e, K - c); }
                    }
                    continue;
                }
                for (long c = 0; c < Kp; c += LANES) stv(d + c, ck_ldn(p + g * K + c, K - c));
            }
        }
        const real *p = a->v + (t * H + g0) * V;
        for (long g = 0; g < G; g++) {
            real *d = w->in + (g * n + i) * RS + 5 * Kp;
            for (long c = 0; c < Vp; c += LANES) stv(d + c, ck_ldn(p + g * V + c, V - c));
        }
    }
    for (long g = 0; g < G; g++)
        ck_chunk(w, K, n, w->in + g * n * RS, w->out + g * n * Vp, S + g * hs, ldS, pf, g, G);
    // outputs: streaming stores where a whole aligned vector is written (the
    // lines are not read again here, and it saves reading them in first)
    for (long i = 0; i < n; i++) {
        real *o = a->out + ((c0 + i) * H + g0) * V;
        for (long g = 0; g < G; g++)
            for (long c = 0; c < V; c += LANES) {
                real *p = o + g * V + c;
                const vf x = ld(w->out + (g * n + i) * Vp + c);
                if (c + LANES <= V && ((uintptr_t)p & 15) == 0) {
                    const int nt = (int)(16 / sizeof(real));
                    for (int q = 0; q < LANES; q += nt) {
                        vf4 x4;
                        for (int l = 0; l < nt; l++) x4[l] = x[q + l];
                        __builtin_nontemporal_store(x4, (vf4 *)(p + q));
                    }
                } else {
                    ck_stn(p, x, V - c);
                }
            }
    }
}

/// All T steps of heads h0..<h1 chunk by chunk (chunks of `chunk` steps, the
/// last one shorter) on St [H][K][V]; scratch of
/// hxa_wkv_chunked_scratch_floats(chunk, K, V) elements. With V a multiple of
/// 16 the chunks run in time order across groups of heads (chunk-outer), so
/// each step's input rows are read once per group (ck_group); otherwise head
/// by head on a padded copy of the head's state.
void SFX(wkv_chunked_t)(const wkv_args *a, long chunk, real *st, long h0, long h1, real *scratch) {
    const long K = a->key_size, V = a->value_size, T = a->steps;
    const long L = chunk < 1 ? 1 : chunk;
    const long Kp = hxa_pad16(K), Vp = hxa_pad16(V), nl = hxa_pad16(L);
    real *base = (real *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    ck_scratch w;
    w.Kp = Kp; w.Vp = Vp; w.nl = nl;
    real *stp = base;                // [K][Vp] padded copy of a head's state (V % 16 != 0)
    w.Y = stp + K * Vp;               // [3L][Vp]: Vc, Sa (R first), O
    w.A1 = w.Y + 3 * L * Vp;          // [2L][Kp]: Ad, Qd
    w.KB = w.A1 + 2 * L * Kp;         // [2L][Kp]: Kt, Bt
    w.kE = w.KB + 2 * L * Kp;         // [K][nl]
    w.bE = w.kE + K * nl;             // [K][nl]
    w.Aqk = w.bE + K * nl;            // 4 × [L][nl]: A_qk, A_qb, A_ak, A_ab
    w.Aqb = w.Aqk + L * nl;
    w.Aak = w.Aqb + L * nl;
    w.Aab = w.Aak + L * nl;
    w.edec = w.Aab + L * nl;          // [Kp] exp(G_n)
    w.zero = w.edec + Kp;             // [Kp] zeros
    w.RS = 5 * Kp + Vp;               // one step's gathered inputs
    w.in = w.zero + Kp;               // [group][L][RS]
    w.out = w.in + hxa_chunk_group(L) * L * w.RS; // [group][L][Vp]
    for (long c = 0; c < Kp; c++) w.zero[c] = 0;
    // lanes of kE, bE above the current step are read (and masked off) before
    // they are set: keep them finite
    for (long e = 0; e < K * nl; e++) { w.kE[e] = 0; w.bE[e] = 0; }

    if (V == Vp) {
        const long G = hxa_chunk_group(L);
        for (long c0 = 0; c0 < T; c0 += L) {
            const long n = T - c0 < L ? T - c0 : L;
            for (long g0 = h0; g0 < h1; g0 += G) {
                const long g1 = g0 + G < h1 ? g0 + G : h1;
                // the block after this one: the next group, or the first group of the next chunk
                ck_pf pf = {a, c0, n, g1, G, 0, 0, 0, 0, 0, 0, 0};
                if (g1 >= h1) { pf.c = c0 + L; pf.n = T - pf.c < L ? T - pf.c : L; pf.g0 = h0; }
                if (pf.g0 + pf.G > h1) pf.G = h1 - pf.g0;
                ck_group(a, &w, g0, g1, c0, n, st + g0 * K * V, V, K * V, &pf);
            }
        }
        ck_fence();
        return;
    }
    for (long h = h0; h < h1; h++) {
        real *sh = st + h * K * V;
        for (long j = 0; j < K; j++)
            for (long c = 0; c < Vp; c++) stp[j * Vp + c] = c < V ? sh[j * V + c] : 0;
        for (long c0 = 0; c0 < T; c0 += L) {
            ck_pf pf = {a, c0 + L, T - c0 - L < L ? T - c0 - L : L, h, 1, 0, 0, 0, 0, 0, 0, 0};
            ck_group(a, &w, h, h + 1, c0, T - c0 < L ? T - c0 : L, stp, Vp, 0, &pf);
        }
        for (long j = 0; j < K; j++)
            for (long c = 0; c < V; c++) sh[j * V + c] = stp[j * Vp + c];
    }
    ck_fence();
}

#undef CK_IL
#undef CK_MR
#undef CK_NB
#undef CK_GV
#undef CK_INLINE
#undef CK_TILE
#undef CK_TILE_ROWS

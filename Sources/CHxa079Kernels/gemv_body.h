// gemv_body.h: decode matrix-vector products for one build (element type real) (contracts in
// include/hxa079_kernels.h; callers gemvRows / gemvCols in Sources/Hxa079Fast/Gemv.swift
// and the bf16 GEMV in DenseMatrix.swift).

/// y[r] = W[r][:]·x for rows r0..<r1, ONE row at a time, four vectors of
/// the row per pass (four independent FMA chains). One row at a time, not
/// four rows sharing each load of x: the weights are then read as a single
/// sequential stream, which the hardware prefetchers follow across pages;
/// four interleaved row streams (the previous kernel, 4 rows x 2 vectors)
/// streamed far slower. Interleaved A/B on the 2-core VM, tok/s median:
/// medium f32 decode (own GEMV) 24.2 -> 32.3, medium bf16 49.4 -> 70.9,
/// small f32 (own GEMV) 575 -> 1017; software prefetch (64 B..8 KiB ahead,
/// t0 or nta) and 8 vectors per pass measured no better in a standalone
/// streaming test, 2 rows x 4 vectors worse.
#define GEMV_ROWS_BODY(T, LOADW, SCALARW)                                           \
    for (long r = r0; r < r1; r++) {                                                 \
        const T *wr = w + r * ldw;                                                   \
        vf a0 = 0, a1 = 0, a2 = 0, a3 = 0;                                           \
        long i = 0;                                                                  \
        for (; i + 4 * LANES <= cols; i += 4 * LANES) {                              \
            a0 = fma_(LOADW(wr + i), ld(x + i), a0);                                 \
            a1 = fma_(LOADW(wr + i + LANES), ld(x + i + LANES), a1);                 \
            a2 = fma_(LOADW(wr + i + 2 * LANES), ld(x + i + 2 * LANES), a2);         \
            a3 = fma_(LOADW(wr + i + 3 * LANES), ld(x + i + 3 * LANES), a3);         \
        }                                                                            \
        for (; i + LANES <= cols; i += LANES) a0 = fma_(LOADW(wr + i), ld(x + i), a0); \
        real s = hsum((a0 + a1) + (a2 + a3));                                       \
        for (; i < cols; i++) s += SCALARW(wr[i]) * x[i];                            \
        y[r] = s;                                                                    \
    }

#define SAME_SCALAR(v) (v)
void SFX(gemv_rows)(const real *w, long ldw, long cols, const real *x, real *y, long r0, long r1) {
    GEMV_ROWS_BODY(real, ld, SAME_SCALAR)
}
void SFX(gemv_rows_bf16)(const uint16_t *w, long ldw, long cols, const real *x, real *y, long r0, long r1) {
    GEMV_ROWS_BODY(uint16_t, ldbf, bf1)
}
#undef SAME_SCALAR
#undef GEMV_ROWS_BODY

/// y[c] = Σ_r x[r]·W[r][c] for columns c0..<c1: blocks of 4 vectors of
/// columns kept in registers over all rows, even and odd rows in separate
/// accumulators (eight FMA chains).
void SFX(gemv_cols)(const real *w, long ldw, long rows, const real *x, real *y, long c0, long c1) {
    long c = c0;
    for (; c + 4 * LANES <= c1; c += 4 * LANES) {
        vf a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        long r = 0;
        for (; r + 1 < rows; r += 2) {
            const real *p = w + r * ldw + c, *q = p + ldw;
            const vf xa = splat(x[r]), xb = splat(x[r + 1]);
            a0 = fma_(ld(p), xa, a0); a1 = fma_(ld(p + LANES), xa, a1);
            a2 = fma_(ld(p + 2 * LANES), xa, a2); a3 = fma_(ld(p + 3 * LANES), xa, a3);
            b0 = fma_(ld(q), xb, b0); b1 = fma_(ld(q + LANES), xb, b1);
            b2 = fma_(ld(q + 2 * LANES), xb, b2); b3 = fma_(ld(q + 3 * LANES), xb, b3);
        }
        if (r < rows) {
            const real *p = w + r * ldw + c;
            const vf xa = splat(x[r]);
            a0 = fma_(ld(p), xa, a0); a1 = fma_(ld(p + LANES), xa, a1);
            a2 = fma_(ld(p + 2 * LANES), xa, a2); a3 = fma_(ld(p + 3 * LANES), xa, a3);
        }
        stv(y + c, a0 + b0); stv(y + c + LANES, a1 + b1);
        stv(y + c + 2 * LANES, a2 + b2); stv(y + c + 3 * LANES, a3 + b3);
    }
    for (; c + LANES <= c1; c += LANES) {
        vf a0 = 0, b0 = 0;
        long r = 0;
        for (; r + 1 < rows; r += 2) {
            a0 = fma_(ld(w + r * ldw + c), splat(x[r]), a0);
            b0 = fma_(ld(w + (r + 1) * ldw + c), splat(x[r + 1]), b0);
        }
        if (r < rows) a0 = fma_(ld(w + r * ldw + c), splat(x[r]), a0);
        stv(y + c, a0 + b0);
    }
    for (; c < c1; c++) {
        real s = 0;
        for (long r = 0; r < rows; r++) s += x[r] * w[r * ldw + c];
        y[c] = s;
    }
}

// gemv_body.h: decode matrix-vector products for one ISA build. Twins of
// gemvRows / gemvCols / dot4RowsBF16 in Sources/Hxa079Fast (contracts there).

/// y[r] = W[r][:]·x for rows r0..<r1, four rows at a time, two vectors of
/// each row per pass (eight independent FMA chains).
#define GEMV_ROWS_BODY(T, LOADW, SCALARW)                                              \
    long r = r0;                                                                     \
    for (; r < r1; r += 4) {                                                         \
        const long nr = r1 - r < 4 ? r1 - r : 4;                                     \
        const T *w0 = w + r * ldw;                                                   \
        const T *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w0 + 2 * ldw : w0;      \
        const T *w3 = nr > 3 ? w0 + 3 * ldw : w0;                                    \
        vf a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;           \
        long i = 0;                                                                  \
        for (; i + 2 * LANES <= cols; i += 2 * LANES) {                              \
            const vf x0 = ld(x + i), x1 = ld(x + i + LANES);                         \
            a0 = fma_(LOADW(w0 + i), x0, a0); b0 = fma_(LOADW(w0 + i + LANES), x1, b0); \
            a1 = fma_(LOADW(w1 + i), x0, a1); b1 = fma_(LOADW(w1 + i + LANES), x1, b1); \
            a2 = fma_(LOADW(w2 + i), x0, a2); b2 = fma_(LOADW(w2 + i + LANES), x1, b2); \
            a3 = fma_(LOADW(w3 + i), x0, a3); b3 = fma_(LOADW(w3 + i + LANES), x1, b3); \
        }                                                                            \
        for (; i + LANES <= cols; i += LANES) {                                      \
            const vf x0 = ld(x + i);                                                 \
            a0 = fma_(LOADW(w0 + i), x0, a0); a1 = fma_(LOADW(w1 + i), x0, a1);      \
            a2 = fma_(LOADW(w2 + i), x0, a2); a3 = fma_(LOADW(w3 + i), x0, a3);      \
        }                                                                            \
        float s0 = hsum(a0 + b0), s1 = hsum(a1 + b1), s2 = hsum(a2 + b2), s3 = hsum(a3 + b3); \
        for (; i < cols; i++) {                                                      \
            const float xi = x[i];                                                   \
            s0 += SCALARW(w0[i]) * xi; s1 += SCALARW(w1[i]) * xi;                    \
            s2 += SCALARW(w2[i]) * xi; s3 += SCALARW(w3[i]) * xi;                    \
        }                                                                            \
        y[r] = s0;                                                                   \
        if (nr > 1) y[r + 1] = s1;                                                   \
        if (nr > 2) y[r + 2] = s2;                                                   \
        if (nr > 3) y[r + 3] = s3;                                                   \
    }

#define F32_SCALAR(v) (v)
void SFX(gemv_rows_f32)(const float *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    GEMV_ROWS_BODY(float, ld, F32_SCALAR)
}
void SFX(gemv_rows_bf16)(const uint16_t *w, long ldw, long cols, const float *x, float *y, long r0, long r1) {
    GEMV_ROWS_BODY(uint16_t, ldbf, bf1)
}
#undef F32_SCALAR
#undef GEMV_ROWS_BODY

/// y[c] = Σ_r x[r]·W[r][c] for columns c0..<c1: blocks of 4 vectors of
/// columns kept in registers over all rows, even and odd rows in separate
/// accumulators (eight FMA chains).
void SFX(gemv_cols_f32)(const float *w, long ldw, long rows, const float *x, float *y, long c0, long c1) {
    long c = c0;
    for (; c + 4 * LANES <= c1; c += 4 * LANES) {
        vf a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
        long r = 0;
        for (; r + 1 < rows; r += 2) {
            const float *p = w + r * ldw + c, *q = p + ldw;
            const vf xa = splat(x[r]), xb = splat(x[r + 1]);
            a0 = fma_(ld(p), xa, a0); a1 = fma_(ld(p + LANES), xa, a1);
            a2 = fma_(ld(p + 2 * LANES), xa, a2); a3 = fma_(ld(p + 3 * LANES), xa, a3);
            b0 = fma_(ld(q), xb, b0); b1 = fma_(ld(q + LANES), xb, b1);
            b2 = fma_(ld(q + 2 * LANES), xb, b2); b3 = fma_(ld(q + 3 * LANES), xb, b3);
        }
        if (r < rows) {
            const float *p = w + r * ldw + c;
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
        float s = 0;
        for (long r = 0; r < rows; r++) s += x[r] * w[r * ldw + c];
        y[c] = s;
    }
}

// rows_body.h: row-wise activations of the fast path for one ISA build.
// Twins of the Swift SIMD code in Sources/Hxa079Fast (VectorMath.swift,
// FastModel.swift `softmaxRow` and `swiGLU`), same formulas, vexp_ from vec.h.

/// y[i] = silu(g[i])·u[i] = g·u/(1 + e^−g), SPEC (32); y may alias g or u.
void SFX(silu_mul)(const float *g, const float *u, float *y, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        const vf x = ld(g + i);
        stv(y + i, x / (1.0f + vexp_(-x)) * ld(u + i));
    }
    for (; i < n; i++) {
        float t[LANES] = {0};
        t[0] = g[i];
        const vf e = vexp_(-ld(t));
        y[i] = g[i] / (1.0f + e[0]) * u[i];
    }
}

/// Softmax of row[0..<valid]·scale in place (max subtracted), row[valid..<total]
/// zeroed (future positions), SPEC (29)–(30).
void SFX(softmax_row)(float *row, long valid, long total, float scale) {
    vf mx = (vf)(-__builtin_inff());
    long i = 0;
    for (; i + LANES <= valid; i += LANES) {
        const vf x = ld(row + i) * scale;
        stv(row + i, x);
        mx = x > mx ? x : mx;
    }
    float m = -__builtin_inff();
    for (int l = 0; l < LANES; l++) m = mx[l] > m ? mx[l] : m;
    for (; i < valid; i++) { row[i] *= scale; m = row[i] > m ? row[i] : m; }
    vf acc = 0;
    i = 0;
    for (; i + LANES <= valid; i += LANES) {
        const vf e = vexp_(ld(row + i) - m);
        stv(row + i, e);
        acc += e;
    }
    float sum = hsum(acc);
    for (; i < valid; i++) {
        float t[LANES] = {0};
        t[0] = row[i] - m;
        const float e = vexp_(ld(t))[0];
        row[i] = e;
        sum += e;
    }
    i = 0;
    for (; i + LANES <= valid; i += LANES) stv(row + i, ld(row + i) / sum);
    for (; i < valid; i++) row[i] /= sum;
    for (i = valid; i < total; i++) row[i] = 0;
}

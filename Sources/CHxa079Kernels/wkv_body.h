// wkv_body.h: the WKV recurrence, SPEC.md (18)-(20), for one build (element type real; contracts
// in include/hxa079_kernels.h; the driver is Sources/Hxa079Fast/WKVKernels.swift).

/// d[0..<K] = exp(g[0..<K]) (17b); returns d.
static inline const real *SFX(decay_into)(real *d, const real *g, long K) {
    long j = 0;
    for (; j + LANES <= K; j += LANES) stv(d + j, vexp_(ld(g + j)));
    if (j < K) {
        real tail[LANES] = {0};
        for (long l = 0; l < K - j; l++) tail[l] = g[j + l];
        const vf e = vexp_(ld(tail));
        for (long l = 0; l < K - j; l++) d[j + l] = e[l];
    }
    return d;
}

#ifndef WKV_STEP_BLOCK
#define WKV_STEP_BLOCK 32
#endif

/// Prefetches the input rows of step t, head h (64-byte lines).
static inline void SFX(prefetch_step)(const wkv_args *a, long t, long h) {
    const long K = a->key_size, V = a->value_size;
    const long ko = (t * a->heads + h) * K, vo = (t * a->heads + h) * V;
    const real *rows[6] = {a->r + ko, (a->decay ? a->decay : a->log_decay) + ko, a->k + ko, a->alpha + ko,
                            a->beta + ko, a->v + vo};
    for (int f = 0; f < 6; f++) {
        const long n = f == 5 ? V : K;
        for (long c = 0; c < n; c += HXA_LINE) __builtin_prefetch(rows[f] + c);
    }
}

/// All T steps of heads h0..<h1 on St [H][K][V]: lanes over the value index i,
/// blocks of 2*LANES values, so every update is a loop over key rows j of
/// vector FMAs with the per-key scalars broadcast. With a->decay NULL the
/// step's d = exp(g) (17b) is computed here from a->log_decay (K exps per
/// head-step against 9*K*V flops: no separate pass, no [T][H][K] array).
void SFX(wkv_recurrent_t)(const wkv_args *a, real *st, long h0, long h1) {
    const long H = a->heads, K = a->key_size, V = a->value_size;
    const long V2 = V - V % (2 * LANES), V1 = V - V % LANES;
    // d when computed here: on the stack up to HXA_INLINE_DECAY_STACK_K keys
    // (no variable-length array: with one, clang -O0 misaligns the 64-byte
    // vector arguments it passes on the stack)
    real dstack[HXA_INLINE_DECAY_STACK_K + LANES] __attribute__((aligned(64)));
    real *dheap = !a->decay && K > HXA_INLINE_DECAY_STACK_K ? malloc(sizeof(real) * (size_t)(K + LANES)) : NULL;
    real *dbuf = dheap ? dheap : dstack;
    if (!a->decay && K > HXA_INLINE_DECAY_STACK_K && !dheap) return;   // out of memory: outputs stay as they were
    // Blocks of WKV_STEP_BLOCK steps, head by head inside a block: one head's
    // state (K·V floats, 16 KB at 64×64) stays in L1 for the block, and the
    // block's input rows of all heads (the rows of one step share pages) stay
    // in L2 and the TLB while the heads pass over them. The next step's rows
    // are prefetched (one page apart when H·K = 1024: the hardware prefetcher
    // does not follow).
    for (long tb = 0; tb < a->steps; tb += WKV_STEP_BLOCK)
    for (long h = h0; h < h1; h++) {
        const long te = tb + WKV_STEP_BLOCK < a->steps ? tb + WKV_STEP_BLOCK : a->steps;
        for (long t = tb; t < te; t++) {
            if (t + 1 < te) SFX(prefetch_step)(a, t + 1, h);
            const long ko = (t * H + h) * K, vo = (t * H + h) * V;
            real *s = st + h * K * V;
            const real *de = a->decay ? a->decay + ko : SFX(decay_into)(dbuf, a->log_decay + ko, K);
            const real *al = a->alpha + ko, *be = a->beta + ko;
            const real *kk = a->k + ko, *rr = a->r + ko, *vv = a->v + vo;
            real *oo = a->out + vo;
            long i = 0;
            for (; i < V2; i += 2 * LANES) {
                // (18) sa = S·α for values i..<i+2W, from the OLD state (two key rows per pass)
                vf sa0 = 0, sa1 = 0, sb0 = 0, sb1 = 0;
                long j = 0;
                for (; j + 1 < K; j += 2) {
                    const real *p = s + j * V + i, *q = p + V;
                    vf aj = splat(al[j]), aj1 = splat(al[j + 1]);
                    sa0 = fma_(ld(p), aj, sa0);
                    sa1 = fma_(ld(p + LANES), aj, sa1);
                    sb0 = fma_(ld(q), aj1, sb0);
                    sb1 = fma_(ld(q + LANES), aj1, sb1);
                }
                if (j < K) {
                    const real *p = s + j * V + i;
                    sa0 = fma_(ld(p), splat(al[j]), sa0);
                    sa1 = fma_(ld(p + LANES), splat(al[j]), sa1);
                }
                const vf s0 = sa0 + sb0, s1 = sa1 + sb1;
                const vf v0 = ld(vv + i), v1 = ld(vv + i + LANES);
                // (19) St[j] = St[j]·d_j + sa·β_j + v·k~_j ; (20) o += St_new[j]·r_j
                vf o0 = 0, o1 = 0;
                for (j = 0; j < K; j++) {
                    real *p = s + j * V + i;
                    const vf dj = splat(de[j]), bj = splat(be[j]), kj = splat(kk[j]), rj = splat(rr[j]);
                    const vf n0 = fma_(v0, kj, fma_(s0, bj, ld(p) * dj));
                    const vf n1 = fma_(v1, kj, fma_(s1, bj, ld(p + LANES) * dj));
                    stv(p, n0);
                    stv(p + LANES, n1);
                    o0 = fma_(n0, rj, o0);
                    o1 = fma_(n1, rj, o1);
                }
                stv(oo + i, o0);
                stv(oo + i + LANES, o1);
            }
            for (; i < V1; i += LANES) {
                vf sa = 0;
                for (long j = 0; j < K; j++) sa = fma_(ld(s + j * V + i), splat(al[j]), sa);
                const vf v0 = ld(vv + i);
                vf o0 = 0;
                for (long j = 0; j < K; j++) {
                    real *p = s + j * V + i;
                    const vf n0 = fma_(v0, splat(kk[j]), fma_(sa, splat(be[j]), ld(p) * splat(de[j])));
                    stv(p, n0);
                    o0 = fma_(n0, splat(rr[j]), o0);
                }
                stv(oo + i, o0);
            }
            for (; i < V; i++) {
                real sa = 0;
                for (long j = 0; j < K; j++) sa += s[j * V + i] * al[j];
                real o = 0;
                for (long j = 0; j < K; j++) {
                    const real n = s[j * V + i] * de[j] + sa * be[j] + vv[i] * kk[j];
                    s[j * V + i] = n;
                    o += n * rr[j];
                }
                oo[i] = o;
            }
        }
    }
    free(dheap);
}

/// One step (T = 1) of heads h0..<h1 on the canonical S [H][V][K]: per value
/// row i, (18) sa_i = S[i,:]·α, then (19) and (20) along the row. a->decay
/// NULL: d from a->log_decay, as above.
void SFX(wkv_step_canonical)(const wkv_args *a, real *state, long h0, long h1) {
    const long K = a->key_size, V = a->value_size;
    const long K1 = K - K % LANES;
    real dstack[HXA_INLINE_DECAY_STACK_K + LANES] __attribute__((aligned(64)));
    real *dheap = !a->decay && K > HXA_INLINE_DECAY_STACK_K ? malloc(sizeof(real) * (size_t)(K + LANES)) : NULL;
    real *dbuf = dheap ? dheap : dstack;
    if (!a->decay && K > HXA_INLINE_DECAY_STACK_K && !dheap) return;
    for (long h = h0; h < h1; h++) {
        const long ko = h * K, vo = h * V;
        real *s = state + h * V * K;
        const real *de = a->decay ? a->decay + ko : SFX(decay_into)(dbuf, a->log_decay + ko, K);
        const real *al = a->alpha + ko, *be = a->beta + ko;
        const real *kk = a->k + ko, *rr = a->r + ko;
        for (long i = 0; i < V; i++) {
            real *row = s + i * K;
            vf acc = 0;
            long j = 0;
            for (; j < K1; j += LANES) acc = fma_(ld(row + j), ld(al + j), acc);
            real sa = hsum(acc);
            for (; j < K; j++) sa += row[j] * al[j];
            const real vi = a->v[vo + i];
            const vf saV = splat(sa), viV = splat(vi);
            vf oacc = 0;
            for (j = 0; j < K1; j += LANES) {
                const vf n = fma_(viV, ld(kk + j), fma_(saV, ld(be + j), ld(row + j) * ld(de + j)));
                stv(row + j, n);
                oacc = fma_(n, ld(rr + j), oacc);
            }
            real o = hsum(oacc);
            for (; j < K; j++) {
                const real n = row[j] * de[j] + sa * be[j] + vi * kk[j];
                row[j] = n;
                o += n * rr[j];
            }
            a->out[vo + i] = o;
        }
    }
    free(dheap);
}

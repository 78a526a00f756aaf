// bf16_body.h: bfloat16 storage rounding for one float build (contracts in
// include/hxa079_kernels.h; callers: the bf16 engine's storage points and the
// packing of matrix-product inputs, Sources/Hxa079Fast). Float builds only.
//
// Round to nearest, ties to even, on the bit pattern: u + 0x7FFF + ((u >> 16) & 1),
// keep the top 16 bits (overflow carries into the exponent and gives ±inf, as
// it should); NaN keeps its sign and top payload bits with the quiet bit set.
// Bit for bit Swift's `roundToBF16` (DenseMatrix.swift) and SafeTensors'
// `bf16Bits` (Half.swift).

/// The rounded bf16 bits of each lane, in the low half of a 32-bit lane.
static inline vus bf16_round_bits(vus u) {
    const vus rounded = (u + (vus)0x7FFFu + ((u >> 16) & (vus)1u)) >> 16;
    const vus quiet = (u >> 16) | (vus)0x0040u;
    const vus isnan = (vus)((u & (vus)0x7FFFFFFFu) > (vus)0x7F800000u);   // all ones where NaN
    return (rounded & ~isnan) | (quiet & isnan);
}

void SFX(bf16_round)(float *x, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        vus u;
        __builtin_memcpy(&u, x + i, sizeof u);
        u = bf16_round_bits(u) << 16;
        __builtin_memcpy(x + i, &u, sizeof u);
    }
    for (; i < n; i++) {
        uint32_t u;
        __builtin_memcpy(&u, x + i, sizeof u);
        vus v = (vus)u;
        u = bf16_round_bits(v)[0] << 16;
        __builtin_memcpy(x + i, &u, sizeof u);
    }
}

void SFX(bf16_pack)(const float *x, uint16_t *y, long n) {
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        vus u;
        __builtin_memcpy(&u, x + i, sizeof u);
        const vh h = __builtin_convertvector(bf16_round_bits(u), vh);
        __builtin_memcpy(y + i, &h, sizeof h);
    }
    for (; i < n; i++) {
        uint32_t u;
        __builtin_memcpy(&u, x + i, sizeof u);
        vus v = (vus)u;
        y[i] = (uint16_t)bf16_round_bits(v)[0];
    }
}

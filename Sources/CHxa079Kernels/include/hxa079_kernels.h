// hxa079_kernels.h: the hot loops of the fast path (WKV recurrence and
// chunked form, decode GEMVs, element- and row-wise activations, bf16
// storage rounding): ONE C body per op (`*_body.h`, clang vector extensions,
// no intrinsics, written on the element type `real`) compiled for float and
// for double (the `_f64` entry points at the end), each three times, and
// chosen at run time — plus the bf16 engine's matrix products
// (isa_avx512bf16.c: `vdpbf16ps` intrinsics, which vector extensions cannot
// express, and their scalar twins):
//   level 0, portable: the package's default target (baseline x86-64, SSE2
//     without FMA; arm64 NEON with FMA), 8 floats / 4 doubles; every CPU runs it;
//   level 1, AVX2+FMA (x86-64), 8 floats / 4 doubles;
//   level 2, AVX-512F (x86-64), 16 floats / 8 doubles;
//   level 3, AVX-512F with AVX512-BF16 (and BW, VL: x86-64): the level-2
//     builds of every body above, plus vdpbf16ps in the bf16 matrix products
//     of the bf16 engine (isa_avx512bf16.c); below it those products widen
//     the weights to float and use sgemm (Sources/Hxa079Fast, DenseMatrix.swift).
//
// Why C: Swift's default x86-64 target is baseline SSE2 without FMA, and
// Swift cannot enable target features per function; the only ways to get
// FMA/AVX code from Swift are `-target-cpu` flags, which are unsafe flags
// (refused for versioned dependencies) and make a binary that dies with
// SIGILL on an older CPU. Clang can compile a function for a feature set with
// `__attribute__((target(...)))` and the caller can ask the CPU at run time
// (`__builtin_cpu_supports`). The portable build of the same bodies replaces
// the Swift SIMD twins the fast path used to carry (measured no slower:
// BENCHMARKS.md, "Kernel levels").
//
// Every level computes the same function (contracts below and in
// Sources/Hxa079Fast); sums are reassociated, and contracted to FMA where
// the level has it. Sizes are element counts; all pointers may be unaligned;
// arrays never overlap unless stated.
#ifndef HXA079_KERNELS_H
#define HXA079_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HXA_LEVEL_PORTABLE 0
#define HXA_LEVEL_AVX2 1
#define HXA_LEVEL_AVX512 2
#define HXA_LEVEL_AVX512BF16 3

/// The level every call below runs at, process-wide. Starts at the highest
/// level the CPU supports, capped by HXA079_FAST_KERNELS (portable | avx2;
/// any other value: no cap).
int hxa_kernel_level(void);
/// The highest level this CPU supports (0 on a CPU without AVX2+FMA and on
/// every other architecture).
int hxa_kernel_max_level(void);
/// Sets the level, clamped to 0...hxa_kernel_max_level(); returns the level
/// set. Calls already running finish at the level they started with.
int hxa_kernel_set_level(int level);
/// "portable", "avx2+fma", "avx512f" or "avx512bf16".
const char *hxa_kernel_level_name(int level);

/// Element-wise ops of hxa_unary (the Float twins of Hxa079Reference's
/// scalars, polynomial approximations).
enum hxa_unary_op { HXA_EXP = 0, HXA_SIGMOID = 1, HXA_TANH = 2, HXA_SILU = 3, HXA_SOFTPLUS = 4 };
/// y[i] = op(x[i]) for i < n; y may alias x.
void hxa_unary(enum hxa_unary_op op, const float *x, float *y, long n);

/// Per-step inputs of one WKV call; element (t, h, j) of a key-sized array is
/// at (t*H + h)*K + j, of a value-sized array at (t*H + h)*V + i.
typedef struct {
    long steps, heads, key_size, value_size;
    const float *r;      ///< [T][H][K]
    const float *log_decay; ///< [T][H][K] g <= 0
    const float *decay;  ///< [T][H][K] d = exp(g); NULL: every kernel computes it from log_decay
    const float *k;      ///< [T][H][K] k~
    const float *v;      ///< [T][H][V]
    const float *alpha;  ///< [T][H][K]
    const float *beta;   ///< [T][H][K]
    float *out;          ///< [T][H][V], written
} hxa_wkv_args;

/// SPEC (18)-(20) for all T steps of heads h0..<h1 on the TRANSPOSED state
/// St [H][K][V] (St[j][i] = S[i][j]), updated in place.
void hxa_wkv_recurrent_t(const hxa_wkv_args *a, float *state_t, long h0, long h1);

/// SPEC (18)-(20), one step (T = 1) of heads h0..<h1 on the canonical state
/// S [H][V][K], updated in place.
void hxa_wkv_step_canonical(const hxa_wkv_args *a, float *state, long h0, long h1);

/// Floats of scratch one caller of hxa_wkv_chunked_t needs for chunks of up
/// to `chunk` steps (plain C; valid at every level).
long hxa_wkv_chunked_scratch_floats(long chunk, long key_size, long value_size);

/// SPEC (40)-(48), the chunked form of (18)-(20): all T steps of heads
/// h0..<h1 in chunks of `chunk` steps (the last one shorter) on the TRANSPOSED
/// state St [H][K][V], updated in place. Per chunk: the decay vectors and the
/// interaction matrices (41)-(43a), with every relative decay a running
/// product of d (so safe for any log decay g <= 0: no exp of a positive
/// number, no division, (47)); then [R; O] = [Ad; Qd]·St_0 as one
/// register-blocked product, the forward substitution (44) for Sa and the rest
/// of (45), and the new state (46) as a second product. Reads decay (d), or
/// exp(log_decay) evaluated while gathering a chunk's inputs when decay is
/// NULL. `scratch` holds hxa_wkv_chunked_scratch_floats(chunk, K, V) floats,
/// private to this call. `out` is written with streaming stores.
void hxa_wkv_chunked_t(const hxa_wkv_args *a, long chunk, float *state_t, long h0, long h1, float *scratch);

/// y[r] = W[r][:] . x for rows r0..<r1; W [rows][cols] with row stride ldw.
void hxa_gemv_rows_f32(const float *w, long ldw, long cols, const float *x, float *y, long r0, long r1);

/// As hxa_gemv_rows_f32 for bfloat16 weights (bits << 16 widens exactly).
void hxa_gemv_rows_bf16(const uint16_t *w, long ldw, long cols, const float *x, float *y, long r0, long r1);

/// y[c] = sum_r x[r] * W[r][c] for columns c0..<c1; W [rows][cols], stride ldw.
void hxa_gemv_cols_f32(const float *w, long ldw, long rows, const float *x, float *y, long c0, long c1);

/// y[i] = silu(g[i]) * u[i] for i < n (SPEC (32)); y may alias g or u.
void hxa_silu_mul(const float *g, const float *u, float *y, long n);

/// Softmax of row[0..<valid] * scale in place (max subtracted, SPEC (29)-(30));
/// row[valid..<total] set to 0.
void hxa_softmax_row(float *row, long valid, long total, float scale);

/// SPEC (14), (13) on one row of n values in place: w = log sigmoid(w0 + w) - 0.5,
/// a = sigmoid(a0 + a).
void hxa_decay_iclr_row(const float *w0, const float *a0, float *w, float *a, long n);

/// SPEC (12), (15)-(17) for one head of n values: kk = k/norm, ks = k*(1 - w + a),
/// g = -exp(w), d = exp(g), alpha = -kk, beta = kk*a (norm = max(|k|, 1e-12)).
void hxa_wkv_inputs(const float *k, const float *w, const float *a, float norm, float *kk, float *ks, float *g,
                    float *d, float *alpha, float *beta, long n);

/// SPEC (9)/(10): out = raw + (first - raw) * sigmoid(bias + z) over n values.
void hxa_residual_mix(const float *raw, const float *first, const float *z, const float *bias, float *out, long n);

/// bfloat16 storage (round to nearest even on the bit pattern; NaN stays a quiet
/// NaN; overflow gives ±inf): x[i] rounded to a bf16 value in place, for i < n.
void hxa_bf16_round(float *x, long n);
/// y[i] = the bf16 bits of x[i] rounded as hxa_bf16_round, for i < n.
void hxa_bf16_pack(const float *x, uint16_t *y, long n);

/// bf16 matrix product with float accumulation: C[m][n] (ldc) = Σ_k
/// A[m][k]·W[n][k] (accumulate != 0: C[m][n] + that sum) for m < M and n0 <= n < n1, k < K; A [M][K] (lda) and
/// W [N][K] (ldw, PyTorch's [out][in]) bf16 bits, read in place. At level
/// HXA_LEVEL_AVX512BF16: vdpbf16ps register blocks (isa_avx512bf16.c);
/// products exact, sums in float in a blocked order, denormals flushed. At
/// lower levels: a scalar loop computing the same function (slow; the fast
/// path widens the weights and uses sgemm there instead).
void hxa_gemm_bf16(const uint16_t *a, long lda, const uint16_t *w, long ldw, long K, float *c, long ldc, long M,
                   long n0, long n1, int accumulate);
/// y[r] = Σ_k W[r][k]·x[k] for r0 <= r < r1, W [rows][K] (ldw) and x [K] bf16
/// bits (decode); the levels as hxa_gemm_bf16.
void hxa_gemv_bf16(const uint16_t *w, long ldw, long K, const uint16_t *x, float *y, long r0, long r1);
/// The throughput ceiling of vdpbf16ps on one core: `iters` rounds of 16
/// independent vdpbf16ps on registers (16·64 flops per round); returns a value
/// that depends on every lane. Only at level HXA_LEVEL_AVX512BF16 (returns -1 otherwise).
float hxa_bf16_peak_loop(long iters);

/// Float64: the same kernels on double (same contracts as the float entry
/// points above; the level is shared). Element-wise functions are double
/// polynomial approximations of about 1 ulp (vec.h, rows_body.h).
typedef struct {
    long steps, heads, key_size, value_size;
    const double *r, *log_decay, *decay, *k, *v, *alpha, *beta;
    double *out;
} hxa_wkv_args_f64;
void hxa_unary_f64(enum hxa_unary_op op, const double *x, double *y, long n);
void hxa_wkv_recurrent_t_f64(const hxa_wkv_args_f64 *a, double *state_t, long h0, long h1);
void hxa_wkv_step_canonical_f64(const hxa_wkv_args_f64 *a, double *state, long h0, long h1);
/// Doubles of scratch, as hxa_wkv_chunked_scratch_floats (the layout counts elements).
long hxa_wkv_chunked_scratch_f64(long chunk, long key_size, long value_size);
void hxa_wkv_chunked_t_f64(const hxa_wkv_args_f64 *a, long chunk, double *state_t, long h0, long h1, double *scratch);
void hxa_gemv_rows_f64(const double *w, long ldw, long cols, const double *x, double *y, long r0, long r1);
void hxa_gemv_rows_bf16_f64(const uint16_t *w, long ldw, long cols, const double *x, double *y, long r0, long r1);
void hxa_gemv_cols_f64(const double *w, long ldw, long rows, const double *x, double *y, long c0, long c1);
void hxa_silu_mul_f64(const double *g, const double *u, double *y, long n);
void hxa_softmax_row_f64(double *row, long valid, long total, double scale);
void hxa_decay_iclr_row_f64(const double *w0, const double *a0, double *w, double *a, long n);
void hxa_wkv_inputs_f64(const double *k, const double *w, const double *a, double norm, double *kk, double *ks,
                        double *g, double *d, double *alpha, double *beta, long n);
void hxa_residual_mix_f64(const double *raw, const double *first, const double *z, const double *bias, double *out,
                          long n);

#ifdef __cplusplus
}
#endif
#endif

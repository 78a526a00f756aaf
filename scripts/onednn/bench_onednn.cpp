// bench_onednn.cpp — measure oneDNN (2.6) matmul throughput on the CPU.
//
// Contract:
//   Computes Y[M][N] (f32) = X[M][K] · W^T with W stored [N][K] row major (PyTorch
//   Linear layout), via the dnnl::matmul primitive: src X tag ab, weights W seen as a
//   K×N matrix with tag ba (read in place), dst tag ab.
//   For every shape it times three variants:
//     bf16-plain : src/weights bf16, weights tag ba (no repacking), dst f32
//     bf16-any   : weights md format_tag::any; W reordered once into the primitive's
//                  preferred layout beforehand (reorder time reported separately)
//     f32-plain  : src/weights/dst f32, weights tag ba
//   Timing: primitive created outside timing; 2 warm-ups; then best of >= 5 timed
//   executions (more for small shapes, until ~0.3 s of timed work, capped at 200).
//   GFLOP/s = 2·M·N·K / best time.
//   Usage: bench_onednn            — full shape list
//          bench_onednn M N K      — one shape (e.g. under ONEDNN_VERBOSE=1)
//          bench_onednn --check    — bf16 correctness check vs a double loop, then exit
//   Bad arguments → one-line error, exit 2. Random inputs use a fixed seed.
#include <dnnl.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// f32 -> bf16 with round-to-nearest-even (inputs are finite).
uint16_t to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
float from_bf16(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Shape { long M, N, K; const char* what; };

engine eng(engine::kind::cpu, 0);
stream strm(eng);

// Runs the primitive with the given args: 2 warm-ups, then best-of timed runs.
double best_ms(primitive& p, const std::unordered_map<int, memory>& args) {
    for (int i = 0; i < 2; ++i) p.execute(strm, args);
    strm.wait();
    double best = 1e30, spent = 0;
    for (int r = 0; r < 200 && (r < 5 || spent < 0.3); ++r) {
        double t0 = now_s();
        p.execute(strm, args);
        strm.wait();
        double dtm = now_s() - t0;
        spent += dtm;
        if (dtm < best) best = dtm;
    }
    return best * 1e3;
}

void fill_random(std::vector<float>& v, std::mt19937& g) {
    std::uniform_real_distribution<float> d(-1.f, 1.f);
    for (auto& x : v) x = d(g);
}

// Seeded operands of one product: X [M][K] and W [N][K] in f32 and as bf16 bits.
struct Operands {
    std::vector<float> xf, wf;
    std::vector<uint16_t> xb, wb;
    Operands(long M, long N, long K, unsigned seed) : xf(M * K), wf(N * K), xb(M * K), wb(N * K) {
        std::mt19937 g(seed);
        fill_random(xf, g);
        fill_random(wf, g);
        for (size_t i = 0; i < xf.size(); ++i) xb[i] = to_bf16(xf[i]);
        for (size_t i = 0; i < wf.size(); ++i) wb[i] = to_bf16(wf[i]);
    }
};

// Measures one shape in all three variants and prints one line per variant.
void bench(const Shape& s) {
    const long M = s.M, N = s.N, K = s.K;
    const double gflop = 2.0 * M * N * K * 1e-9;
    Operands ops(M, N, K, 12345);
    std::vector<float>& xf = ops.xf; std::vector<float>& wf = ops.wf;
    std::vector<uint16_t>& xb = ops.xb; std::vector<uint16_t>& wb = ops.wb;
    std::vector<float> y(M * N);

    memory::dims sd = {M, K}, wd = {K, N}, dd = {M, N};

    // bf16 plain: weights read in place with tag ba.
    {
        memory::desc smd(sd, dt::bf16, tag::ab), wmd(wd, dt::bf16, tag::ba),
            dmd(dd, dt::f32, tag::ab);
        memory sm(smd, eng, xb.data()), wm(wmd, eng, wb.data()), dm(dmd, eng, y.data());
        matmul::primitive_desc pd(matmul::desc(smd, wmd, dmd), eng);
        matmul p(pd);
        double ms = best_ms(p, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dm}});
        std::printf("%-6ld %-6ld %-6ld %-10s %10.3f ms %8.1f GFLOP/s  impl=%s  (%s)\n", M, N, K,
                    "bf16-plain", ms, gflop / (ms * 1e-3), pd.impl_info_str(), s.what);
        std::fflush(stdout);
    }
    // bf16 any: weights reordered once into the preferred layout.
    {
        memory::desc smd(sd, dt::bf16, tag::ab), wany(wd, dt::bf16, tag::any),
            dmd(dd, dt::f32, tag::ab), wusr(wd, dt::bf16, tag::ba);
        matmul::primitive_desc pd(matmul::desc(smd, wany, dmd), eng);
        memory sm(smd, eng, xb.data()), dm(dmd, eng, y.data()), wu(wusr, eng, wb.data());
        memory wp(pd.weights_desc(), eng);
        double t0 = now_s();
        reorder(wu, wp).execute(strm, wu, wp);
        strm.wait();
        double reorder_ms = (now_s() - t0) * 1e3;  // includes reorder primitive creation
        matmul p(pd);
        double ms = best_ms(p, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wp}, {DNNL_ARG_DST, dm}});
        std::printf("%-6ld %-6ld %-6ld %-10s %10.3f ms %8.1f GFLOP/s  impl=%s  reorder(once)=%.3f ms%s\n",
                    M, N, K, "bf16-any", ms, gflop / (ms * 1e-3), pd.impl_info_str(), reorder_ms,
                    pd.weights_desc() == wusr ? " [any==ba]" : "");
        std::fflush(stdout);
    }
    // f32 plain.
    {
        memory::desc smd(sd, dt::f32, tag::ab), wmd(wd, dt::f32, tag::ba),
            dmd(dd, dt::f32, tag::ab);
        memory sm(smd, eng, xf.data()), wm(wmd, eng, wf.data()), dm(dmd, eng, y.data());
        matmul::primitive_desc pd(matmul::desc(smd, wmd, dmd), eng);
        matmul p(pd);
        double ms = best_ms(p, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dm}});
        std::printf("%-6ld %-6ld %-6ld %-10s %10.3f ms %8.1f GFLOP/s  impl=%s\n", M, N, K,
                    "f32-plain", ms, gflop / (ms * 1e-3), pd.impl_info_str());
        std::fflush(stdout);
    }
}

// bf16 plain result vs a double loop over the same bf16 values.
int check() {
    const long M = 128, N = 1024, K = 1024;
    Operands ops(M, N, K, 777);
    std::vector<uint16_t>& xb = ops.xb; std::vector<uint16_t>& wb = ops.wb;
    std::vector<float> y(M * N);
    memory::desc smd({M, K}, dt::bf16, tag::ab), wmd({K, N}, dt::bf16, tag::ba),
        dmd({M, N}, dt::f32, tag::ab);
    memory sm(smd, eng, xb.data()), wm(wmd, eng, wb.data()), dm(dmd, eng, y.data());
    matmul::primitive_desc pd(matmul::desc(smd, wmd, dmd), eng);
    matmul(pd).execute(strm, {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, dm}});
    strm.wait();
    double max_abs = 0, max_ref = 0, max_rel_scale = 0;
    for (long m = 0; m < M; ++m)
        for (long n = 0; n < N; ++n) {
            double ref = 0, scale = 0;
            for (long k = 0; k < K; ++k) {
                double p = (double)from_bf16(xb[m * K + k]) * from_bf16(wb[n * K + k]);
                ref += p;
                scale += std::fabs(p);
            }
            double e = std::fabs(y[m * N + n] - ref);
            max_abs = std::fmax(max_abs, e);
            max_ref = std::fmax(max_ref, std::fabs(ref));
            max_rel_scale = std::fmax(max_rel_scale, e / scale);
        }
    std::printf("check bf16 M=%ld N=%ld K=%ld impl=%s: max|err|=%.3e  max|err|/max|ref|=%.3e  "
                "max(|err|/sum|x*w|)=%.3e\n",
                M, N, K, pd.impl_info_str(), max_abs, max_abs / max_ref, max_rel_scale);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc == 2 && std::string(argv[1]) == "--check") return check();
        if (argc == 4) {
            char* e;
            long v[3];
            for (int i = 0; i < 3; ++i) {
                v[i] = std::strtol(argv[i + 1], &e, 10);
                if (*e || v[i] <= 0) {
                    std::fprintf(stderr, "error: M N K must be positive integers\n");
                    return 2;
                }
            }
            bench({v[0], v[1], v[2], "cli"});
            return 0;
        }
        if (argc != 1) {
            std::fprintf(stderr, "usage: bench_onednn [--check | M N K]\n");
            return 2;
        }
        std::vector<Shape> shapes;
        const long small[5][2] = {{1536, 1024}, {1024, 1024}, {5632, 1024}, {1024, 2816}, {32000, 1024}};
        const char* names[5] = {"rkv", "out", "gate+up", "down", "head"};
        for (long M : {512L, 128L, 1L})
            for (int i = 0; i < 5; ++i) shapes.push_back({M, small[i][0], small[i][1], names[i]});
        shapes.push_back({128, 6144 + 2 * 768, 6144, "big rkv"});
        shapes.push_back({128, 6144, 6144, "big out"});
        shapes.push_back({128, 2 * 19648, 6144, "big gate+up"});
        shapes.push_back({128, 6144, 19648, "big down"});
        shapes.push_back({2048, 2048, 2048, "square peak"});
        std::printf("%-6s %-6s %-6s %-10s %13s %16s\n", "M", "N", "K", "variant", "best", "rate");
        for (auto& s : shapes) bench(s);
    } catch (dnnl::error& e) {
        std::fprintf(stderr, "error: oneDNN: %s (status %d)\n", e.what(), (int)e.status);
        return 1;
    }
    return 0;
}

// isa_portable.c: the kernel bodies on float built for the package's default target
// (baseline x86-64: SSE2, no FMA; arm64: NEON with FMA), 8 lanes (two
// SSE2 / NEON registers per vector; 4 lanes measured 25 % slower on the f32
// GEMV), as *_portable. No target attribute and no intrinsic: clang lowers
// the vector extensions of vec.h to whatever the target has. The level every
// CPU runs.
#include "kernels_internal.h"
// The chunked kernel's 8-lane helpers are always inlined, so no call passes
// an 8-float vector (the ABI that -Wpsabi warns about on SSE2 never applies).
#pragma clang diagnostic ignored "-Wpsabi"
#if defined(__aarch64__) || defined(__FMA__)
#define HXA_FMA 1
#else
#define HXA_FMA 0
#endif
#define LANES 8
#define SFX(name) name##_portable
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"
#include "bf16_body.h"

// isa_portable_f64.c: the kernel bodies on double for the package's default
// target (as isa_portable.c), 4 lanes (two SSE2 / NEON registers per
// vector), as *_f64_portable.
#include "kernels_internal.h"
#pragma clang diagnostic ignored "-Wpsabi"
#if defined(__aarch64__) || defined(__FMA__)
#define HXA_FMA 1
#else
#define HXA_FMA 0
#endif
#define HXA_F64 1
#define LANES 4
#define SFX(name) name##_f64_portable
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"

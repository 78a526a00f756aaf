// isa_avx2.c: the kernel bodies on float built for AVX2 + FMA (8 lanes), as *_avx2
// (isa_avx2_f64.c: the same bodies on double).
#include "kernels_internal.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HXA_FMA 1
#define LANES 8
#define SFX(name) name##_avx2
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"
#include "bf16_body.h"
#pragma clang attribute pop
#endif

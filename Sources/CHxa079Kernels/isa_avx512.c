// isa_avx512.c: the kernel bodies on float built for AVX-512F (16 lanes), as *_avx512
// (isa_avx512_f64.c: the same bodies on double).
#include "kernels_internal.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#define HXA_FMA 1
#define LANES 16
#define SFX(name) name##_avx512
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"
#include "bf16_body.h"
#pragma clang attribute pop
#endif

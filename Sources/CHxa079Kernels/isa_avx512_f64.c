// isa_avx512_f64.c: the kernel bodies on double built for AVX-512F (8 lanes), as *_f64_avx512.
#include "kernels_internal.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#define HXA_FMA 1
#define HXA_F64 1
#define LANES 8
#define SFX(name) name##_f64_avx512
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"
#pragma clang attribute pop
#endif

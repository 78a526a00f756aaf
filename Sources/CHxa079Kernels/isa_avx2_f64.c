// isa_avx2_f64.c: the kernel bodies on double built for AVX2 + FMA (4 lanes), as *_f64_avx2.
#include "kernels_internal.h"
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HXA_FMA 1
#define HXA_F64 1
#define LANES 4
#define SFX(name) name##_f64_avx2
#include "vec.h"
#include "wkv_body.h"
#include "wkv_chunked_body.h"
#include "gemv_body.h"
#include "rows_body.h"
#pragma clang attribute pop
#endif

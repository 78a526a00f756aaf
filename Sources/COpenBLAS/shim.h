#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
// Debian/Ubuntu libopenblas-dev: /usr/include/x86_64-linux-gnu/cblas.h
// (an alternatives link into openblas-pthread/). No -I flag is needed.
#include <cblas.h>
#endif

#ifndef SISYNC_CMALLOC_SHIM_H
#define SISYNC_CMALLOC_SHIM_H
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

/* glibc's malloc_trim(0): hands the free pages of every arena back to the kernel. Elsewhere
   (no glibc) there is nothing to call, and it answers 0: nothing was released. */
static inline int sisync_malloc_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}
#endif

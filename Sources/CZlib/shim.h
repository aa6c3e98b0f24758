#ifndef SISYNC_CZLIB_SHIM_H
#define SISYNC_CZLIB_SHIM_H
/* zlib (zlib1g-dev): raw inflate and CRC-32 for OneRoster .zip bundles.
   inflateInit2 is a macro; the shim gives Swift a function to call. */
#include <zlib.h>

static inline int sisync_inflate_init_raw(z_stream *stream) {
    return inflateInit2(stream, -MAX_WBITS);
}

static inline int sisync_deflate_init_raw(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}
#endif

// Pango lays text out (shaping, bidi, font fallback through fontconfig) and cairo's PDF
// surface writes it with the fonts embedded: parent letters in every script.
#include <pango/pangocairo.h>
#include <cairo-pdf.h>

// PANGO_SCALE is a macro Swift does not import.
static inline int sisync_pango_scale(void) { return PANGO_SCALE; }

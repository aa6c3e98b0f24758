#ifndef SISYNC_CCRYPT_SHIM_H
#define SISYNC_CCRYPT_SHIM_H
/* libxcrypt (libcrypt-dev): crypt_gensalt_rn and crypt_r for password hashes. */
#include <crypt.h>
#endif

#ifndef SISYNC_CCRYPTO_SHIM_H
#define SISYNC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, already loaded by libcurl: only its SHA-256 digest is used. */
#include <openssl/evp.h>
#endif

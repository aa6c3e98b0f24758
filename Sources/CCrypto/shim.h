#ifndef SISYNC_CCRYPTO_SHIM_H
#define SISYNC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, already loaded by libcurl: its SHA-256 digest, and HMAC-SHA256 for
   signing webhooks. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#endif

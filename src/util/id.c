/* SPDX-License-Identifier: MIT */
/* Identifiers, tokens and hashes from libsodium's random generator and BLAKE2b. */
#include "util/id.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

int hitl_id_init(void) { return sodium_init() < 0 ? -1 : 0; }

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz"; /* Crockford's alphabet. */

static size_t base32(const uint8_t *in, size_t n, char *out) {
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 5) {
      out[o++] = b32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out[o++] = b32[(acc << (5 - bits)) & 31];
  out[o] = '\0';
  return o;
}

void hitl_id_new(const char *prefix, char out[HITL_ID_LEN]) {
  /* 48 bits of milliseconds, then 80 random bits (as ULIDs are made): ids made later sort
   * later, so the database's id index grows at its right edge instead of at random pages. */
  uint8_t raw[16];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
  for (int i = 0; i < 6; i++) raw[i] = (uint8_t)(ms >> (8 * (5 - i)));
  randombytes_buf(raw + 6, sizeof raw - 6);
  size_t p = strlen(prefix);
  if (p > 3) p = 3;
  memcpy(out, prefix, p);
  out[p] = '_';
  base32(raw, sizeof raw, out + p + 1);
}

void hitl_token_new(char out[64]) {
  uint8_t raw[32];
  randombytes_buf(raw, sizeof raw);
  memcpy(out, "hitl_", 5);
  base32(raw, sizeof raw, out + 5);
}

void hitl_hash(const void *data, size_t n, uint8_t out[HITL_HASH_LEN]) {
  crypto_generichash(out, HITL_HASH_LEN, data, n, NULL, 0);
}

void hitl_hex(const uint8_t *bytes, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

uint32_t hitl_hash_bucket(const char *key, size_t n) {
  uint8_t h[8];
  crypto_generichash(h, sizeof h, (const uint8_t *)key, n, NULL, 0);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | h[i];
  return (uint32_t)(v % 10000);
}

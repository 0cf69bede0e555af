/* SPDX-License-Identifier: MIT */
/* Random opaque identifiers and secrets, and BLAKE2b hashing (libsodium). */
#ifndef HITL_UTIL_ID_H
#define HITL_UTIL_ID_H

#include <stddef.h>
#include <stdint.h>

#define HITL_ID_LEN 32   /* Buffer size for an id: prefix, '_', 26 base32 chars, NUL. */
#define HITL_HASH_LEN 32 /* BLAKE2b-256. */

/* Must be called once before any other function here (initialises libsodium). Returns 0 or -1. */
int hitl_id_init(void);
/* Writes "<prefix>_<26 chars of lowercase base32>" from a 48-bit millisecond time and 80 random
 * bits, e.g. "t_0f3k...": unguessable, and ids made later sort later. */
void hitl_id_new(const char *prefix, char out[HITL_ID_LEN]);
/* Writes a new bearer token "hitl_<52 chars of base32>" (256 random bits) into out. */
void hitl_token_new(char out[64]);
/* BLAKE2b-256 of data. */
void hitl_hash(const void *data, size_t n, uint8_t out[HITL_HASH_LEN]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hitl_hex(const uint8_t *bytes, size_t n, char *out);
/* A number in [0, 10000) fixed by the bytes of key: used for deterministic sampling. */
uint32_t hitl_hash_bucket(const char *key, size_t n);

#endif

/* SPDX-License-Identifier: MIT */
/* Webhook secrets and signatures as the Standard Webhooks specification has them: the key is the
 * base64 after "whsec_", the signed content is "<webhook-id>.<webhook-timestamp>.<body>". */
#include "api/webhook_secret.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/xmalloc.h"

#define PREFIX_LEN (sizeof HITL_WEBHOOK_SECRET_PREFIX - 1)

/* Decodes the key of secret s into key (HITL_WEBHOOK_SECRET_MAX bytes). Returns its length, or 0
 * when s is not a valid secret. */
static size_t secret_key(const char *s, unsigned char key[HITL_WEBHOOK_SECRET_MAX]) {
  if (s == NULL || strncmp(s, HITL_WEBHOOK_SECRET_PREFIX, PREFIX_LEN) != 0) return 0;
  const char *b64 = s + PREFIX_LEN, *end = NULL;
  size_t b64_len = strlen(b64), len = 0;
  if (b64_len == 0 || b64_len > sodium_base64_ENCODED_LEN(HITL_WEBHOOK_SECRET_MAX,
                                                          sodium_base64_VARIANT_ORIGINAL))
    return 0;
  if (sodium_base642bin(key, HITL_WEBHOOK_SECRET_MAX, b64, b64_len, NULL, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != b64 + b64_len)
    return 0;
  return len >= HITL_WEBHOOK_SECRET_MIN && len <= HITL_WEBHOOK_SECRET_MAX ? len : 0;
}

bool hitl__webhook_secret_valid(const char *s) {
  unsigned char key[HITL_WEBHOOK_SECRET_MAX];
  size_t len = secret_key(s, key);
  sodium_memzero(key, sizeof key);
  return len > 0;
}

void hitl__webhook_secret_generate(char out[HITL_WEBHOOK_SECRET_LEN]) {
  unsigned char key[HITL_WEBHOOK_SECRET_NEW];
  randombytes_buf(key, sizeof key);
  memcpy(out, HITL_WEBHOOK_SECRET_PREFIX, PREFIX_LEN);
  sodium_bin2base64(out + PREFIX_LEN, HITL_WEBHOOK_SECRET_LEN - PREFIX_LEN, key, sizeof key,
                    sodium_base64_VARIANT_ORIGINAL);
  sodium_memzero(key, sizeof key);
}

void hitl__webhook_secret_hint(const char *s, char out[HITL_WEBHOOK_HINT_LEN]) {
  size_t n = strlen(s);
  snprintf(out, HITL_WEBHOOK_HINT_LEN, "%s...%s", HITL_WEBHOOK_SECRET_PREFIX,
           n >= PREFIX_LEN + 4 ? s + n - 4 : "");
}

static void replace(char **field, const char *value) {
  free(*field);
  *field = value ? hitl_xstrdup(value) : NULL;
}

void hitl__webhook_secret_settle(hitl_webhook *w, const hitl_webhook *old, int64_t now) {
  const char *old_secret = old ? old->secret : NULL;
  if (w->secret == NULL && !w->rotate) {
    if (old_secret) {
      /* Unchanged: the secrets stay as they were, the rotation included. */
      replace(&w->secret, old_secret);
      bool rotating = old->previous_secret && old->previous_until > now;
      replace(&w->previous_secret, rotating ? old->previous_secret : NULL);
      w->previous_until = rotating ? old->previous_until : 0;
      return;
    }
  }
  if (w->secret == NULL) {
    char fresh[HITL_WEBHOOK_SECRET_LEN];
    hitl__webhook_secret_generate(fresh);
    w->secret = hitl_xstrdup(fresh);
    sodium_memzero(fresh, sizeof fresh);
    w->generated = true;
  }
  w->rotate = false;
  if (old_secret && strcmp(old_secret, w->secret) != 0) {
    replace(&w->previous_secret, old_secret);
    w->previous_until = now + HITL_WEBHOOK_ROTATION_MS;
  } else if (old_secret) {
    /* The same secret given again: an ongoing rotation goes on. */
    bool rotating = old->previous_secret && old->previous_until > now;
    replace(&w->previous_secret, rotating ? old->previous_secret : NULL);
    w->previous_until = rotating ? old->previous_until : 0;
  } else {
    replace(&w->previous_secret, NULL);
    w->previous_until = 0;
  }
}

size_t hitl__webhook_secrets_valid(const hitl_webhook *w, int64_t now, const char *out[2]) {
  size_t n = 0;
  if (w->secret) out[n++] = w->secret;
  if (w->previous_secret && w->previous_until > now) out[n++] = w->previous_secret;
  return n;
}

int hitl__webhook_signature(const char *const *secrets, size_t n, const char *id, int64_t timestamp,
                            const char *body, size_t len, char *out, size_t out_len) {
  size_t used = 0;
  char stamp[24];
  int stamp_len = snprintf(stamp, sizeof stamp, ".%lld.", (long long)timestamp);
  if (out_len) out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    unsigned char key[HITL_WEBHOOK_SECRET_MAX], mac[crypto_auth_hmacsha256_BYTES];
    size_t key_len = secret_key(secrets[i], key);
    size_t need = (i ? 1 : 0) + 3 +
                  sodium_base64_ENCODED_LEN(sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    if (key_len == 0 || used + need > out_len) {
      sodium_memzero(key, sizeof key);
      if (out_len) out[0] = '\0';
      return -1;
    }
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)stamp, (unsigned long long)stamp_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(key, sizeof key);
    used += (size_t)snprintf(out + used, out_len - used, "%sv1,", i ? " " : "");
    sodium_bin2base64(out + used, out_len - used, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
    used += strlen(out + used);
  }
  return 0;
}

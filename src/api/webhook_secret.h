/* SPDX-License-Identifier: MIT */
/* Webhook secrets in the Standard Webhooks form ("whsec_<base64>"): checks, generation, hints,
 * rotation on a PUT, and the webhook-signature header they sign with. */
#ifndef HITL_API_WEBHOOK_SECRET_H
#define HITL_API_WEBHOOK_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/queue.h"

#define HITL_WEBHOOK_SECRET_PREFIX "whsec_"
#define HITL_WEBHOOK_SECRET_MIN 24      /* Bytes of key, as the specification advises. */
#define HITL_WEBHOOK_SECRET_MAX 64
#define HITL_WEBHOOK_SECRET_NEW 32      /* Bytes of key in a generated secret. */
#define HITL_WEBHOOK_SECRET_LEN 96      /* Room for the text of any valid secret. */
#define HITL_WEBHOOK_HINT_LEN 16        /* Room for a hint: "whsec_...abcd". */
#define HITL_WEBHOOK_ROTATION_MS (24LL * 3600 * 1000) /* The old secret signs this long. */
#define HITL_WEBHOOK_SIGNATURE_LEN 128  /* Room for one "v1,<base64>" and its separator. */

/* True when s is "whsec_" followed by standard base64 (with padding) of 24 to 64 bytes. */
bool hitl__webhook_secret_valid(const char *s);
/* Writes a new random secret of HITL_WEBHOOK_SECRET_NEW bytes into out (HITL_WEBHOOK_SECRET_LEN
 * bytes). */
void hitl__webhook_secret_generate(char out[HITL_WEBHOOK_SECRET_LEN]);
/* Writes "whsec_...<last 4 characters>" of secret s into out: enough to tell secrets apart,
 * nothing to sign with. */
void hitl__webhook_secret_hint(const char *s, char out[HITL_WEBHOOK_HINT_LEN]);
/* Settles the secrets of w, a webhook of a PUT, against old, the webhook with the same URL in
 * the configuration it replaces (NULL when none): a given secret replaces old's and a rotation
 * generates one, the replaced secret then signing beside it for HITL_WEBHOOK_ROTATION_MS from
 * now; otherwise old's secrets are kept, or a secret is generated when old has none. */
void hitl__webhook_secret_settle(hitl_webhook *w, const hitl_webhook *old, int64_t now);
/* The secrets that sign now: w's secret and, until it expires, the previous one. Returns how
 * many (0 to 2) it set in out; borrowed from w. */
size_t hitl__webhook_secrets_valid(const hitl_webhook *w, int64_t now, const char *out[2]);
/* Appends to out (size out_len) the webhook-signature header value for a delivery: one
 * "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret (space-separated). Returns 0, or -1
 * when a secret is not valid or out is too small (out is then empty). */
int hitl__webhook_signature(const char *const *secrets, size_t n, const char *id, int64_t timestamp,
                            const char *body, size_t len, char *out, size_t out_len);

#endif

/* SPDX-License-Identifier: MIT */
/* The regex leaf's matcher: POSIX extended expressions run by PCRE2's DFA matcher, bounded. */
#ifndef HITL_CORE_POLICY_REGEX_H
#define HITL_CORE_POLICY_REGEX_H

#include <stddef.h>

#define HITL_POLICY_REGEX_MAX_PARTS 1000 /* Parts of a regex pattern, repetitions expanded. */
#define HITL_POLICY_REGEX_MAX_GROUPS 32  /* Nesting levels of parentheses in a regex pattern. */
/* Bytes of a string a pattern scans: a longer string is matched on its first this many bytes
 * (cut on a character boundary) and only a match that needs nothing after the cut counts. */
#define HITL_POLICY_REGEX_MAX_TEXT (64 * 1024)
/* Ints of DFA workspace: bounds the paths through the pattern followed at once (each takes
 * three ints in each of two lists), so the work per byte is bounded too. */
#define HITL_POLICY_REGEX_WORKSPACE 400

typedef struct hitl_regex hitl_regex; /* A compiled pattern; immutable, shareable. */

/* What matching a string gave. */
typedef enum hitl_regex_outcome {
  HITL_REGEX_NO_MATCH = 0,
  HITL_REGEX_MATCH = 1,
  HITL_REGEX_UNDECIDED = 2, /* A limit stopped the matcher before it could tell. */
} hitl_regex_outcome;

/* Compiles pattern, a POSIX extended regular expression (with the GNU escapes \w \W \s \S \b
 * \B \< \> \` \'), into *out (free with hitl__regex_free). Refuses, before compiling, what
 * would be costly: back-references, more than HITL_POLICY_REGEX_MAX_GROUPS nested groups, more
 * than HITL_POLICY_REGEX_MAX_PARTS parts (each character, bracket expression or group is one; a
 * repetition multiplies what it repeats by its upper bound, "+" by two). Returns 0, or
 * HITL_EVALIDATION with the reason in msg (msg may be NULL). */
int hitl__regex_compile(const char *pattern, hitl_regex **out, char *msg, size_t msg_size);
/* Matches re against the n bytes of s (UTF-8) in time bounded by HITL_POLICY_REGEX_MAX_TEXT and
 * HITL_POLICY_REGEX_WORKSPACE. Returns a hitl_regex_outcome; for HITL_REGEX_UNDECIDED, *why
 * names the limit ("text_too_long", "state_limit", "match_limit", "depth_limit",
 * "heap_limit", "invalid_utf8"; static strings). Returns HITL_EUNAVAILABLE when memory runs
 * out. */
int hitl__regex_match(const hitl_regex *re, const char *s, size_t n, const char **why);
/* Frees re; NULL is a no-op. */
void hitl__regex_free(hitl_regex *re);

#endif

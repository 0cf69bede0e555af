/* SPDX-License-Identifier: MIT */
/* The regex leaf's matcher: POSIX extended expressions translated for PCRE2 and run by its DFA
 * matcher in one pass over at most HITL_POLICY_REGEX_MAX_TEXT bytes. */
#include "core/policy_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl/error.h"
#include "util/buf.h"
#include "util/xmalloc.h"

/* Limits of one match besides the text and the workspace. The DFA matcher calls itself only for
 * the lookarounds that \< and \> become, at most once per byte and path; these stop a pattern
 * that would nest or repeat them without end. */
#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 1000
#define HEAP_LIMIT_KIB 4096

struct hitl_regex {
  pcre2_code *code;
  pcre2_match_context *limits; /* Read-only after compiling: shared by concurrent matches. */
};

/* ---- Cost check ---------------------------------------------------------------------------- */

/* Returns the character after the bracket expression that starts at p ('['), or the end of the
 * string when it is not closed. */
static const char *skip_bracket(const char *p) {
  p++;
  if (*p == '^') p++;
  if (*p == ']') p++; /* A ']' that comes first is a member, not the end. */
  while (*p && *p != ']') {
    if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
      char kind = p[1]; /* "[:alpha:]", "[.a.]", "[=e=]" may hold a ']'. */
      p += 2;
      while (*p && !(p[0] == kind && p[1] == ']')) p++;
      if (*p) p += 2;
    } else {
      p++;
    }
  }
  return *p ? p + 1 : p;
}

/* Reads the interval ("{m}", "{m,}", "{,n}", "{m,n}") at *p into *min and *max (max -1: no
 * upper bound; counts saturate past HITL_POLICY_REGEX_MAX_PARTS, which is refused anyway).
 * Moves *p past it and returns true, or returns false when *p holds no interval. */
static bool read_interval(const char **p, long *min, long *max) {
  const char *q = *p + 1;
  long m = 0, n = 0;
  bool has_m = false, comma = false, has_n = false;
  for (; *q >= '0' && *q <= '9'; q++, has_m = true)
    if (m <= HITL_POLICY_REGEX_MAX_PARTS) m = m * 10 + (*q - '0');
  if (*q == ',') {
    comma = true;
    for (q++; *q >= '0' && *q <= '9'; q++, has_n = true)
      if (n <= HITL_POLICY_REGEX_MAX_PARTS) n = n * 10 + (*q - '0');
  }
  if (*q != '}' || (!has_m && !has_n && !comma)) return false;
  *p = q + 1;
  *min = m;
  *max = has_n ? n : comma ? -1 : m;
  return true;
}

/* The copies of the repeated atom the interval at *p stands for (at least 1), moving *p past it;
 * 0 when *p holds no interval. */
static size_t interval_copies(const char **p) {
  long m, n;
  if (!read_interval(p, &m, &n)) return 0;
  size_t copies = n < 0 ? (size_t)m + 1 : (size_t)(n > m ? n : m);
  return copies ? copies : 1;
}

/* Refuses a pattern that would be costly to compile or to match: stacked repetitions
 * ("a+++++") grow the compiled expression exponentially; back-references make matching
 * exponential; deeply nested groups exhaust the compiler's stack. Counts the parts as
 * hitl__regex_compile describes. Returns 0, or HITL_EVALIDATION with msg set. */
static int regex_check(const char *pattern, char *msg, size_t msg_size) {
  size_t sum[HITL_POLICY_REGEX_MAX_GROUPS + 1] = {0};  /* Parts so far in each open group. */
  size_t last[HITL_POLICY_REGEX_MAX_GROUPS + 1] = {0}; /* Parts of its latest atom; 0: none. */
  int depth = 0;
  const char *p = pattern;
  while (*p) {
    size_t atom = 1, copies = 0; /* What p holds: an atom of that many parts, or a repetition. */
    if (((unsigned char)*p & 0xC0) == 0x80) { /* UTF-8 continuation: part of the character. */
      p++;
      continue;
    }
    switch (*p) {
    case '\\':
      if (p[1] >= '1' && p[1] <= '9') {
        snprintf(msg, msg_size, "back-references (\\%c) are not supported", p[1]);
        return HITL_EVALIDATION;
      }
      p += p[1] ? 2 : 1;
      break;
    case '[': p = skip_bracket(p); break;
    case '(':
      if (depth == HITL_POLICY_REGEX_MAX_GROUPS) {
        snprintf(msg, msg_size, "groups are nested more than %d deep", HITL_POLICY_REGEX_MAX_GROUPS);
        return HITL_EVALIDATION;
      }
      depth++;
      sum[depth] = last[depth] = 0;
      p++;
      continue;
    case ')':
      if (depth > 0) atom = sum[depth--] + 1;
      p++;
      break;
    case '|':
      last[depth] = 0;
      p++;
      continue;
    case '*':
    case '?':
      copies = 1;
      p++;
      break;
    case '+':
      copies = 2; /* "a+" is "aa*". */
      p++;
      break;
    case '{':
      if ((copies = interval_copies(&p)) == 0) p++;
      break;
    default: p++; break;
    }
    if (copies && last[depth]) {
      sum[depth] -= last[depth];
      last[depth] *= copies;
      sum[depth] += last[depth];
    } else { /* A repetition with nothing to repeat: translate() refuses it. */
      last[depth] = atom;
      sum[depth] += atom;
    }
    if (sum[depth] > HITL_POLICY_REGEX_MAX_PARTS) {
      snprintf(msg, msg_size, "its repetitions expand it to more than %d parts; lower the counts "
                              "or shorten it", HITL_POLICY_REGEX_MAX_PARTS);
      return HITL_EVALIDATION;
    }
  }
  return 0;
}

/* ---- Translation ----------------------------------------------------------------------------- */

/* The bytes of the UTF-8 character that starts at p (1 for a stray byte; PCRE2 then refuses). */
static size_t char_len(const char *p) {
  unsigned char c = (unsigned char)*p;
  size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
  for (size_t i = 1; i < n; i++)
    if (((unsigned char)p[i] & 0xC0) != 0x80) return 1;
  return n;
}

/* Appends the n-byte character at p so that PCRE2 reads it as itself, in or out of a class. */
static void put_literal(hitl_buf *b, const char *p, size_t n) {
  unsigned char c = (unsigned char)*p;
  if (n == 1 && c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
    hitl_buf_putc(b, '\\'); /* A backslash before any ASCII non-alphanumeric makes it literal. */
  hitl_buf_append(b, p, n);
}

/* Translates the bracket expression at *p ('[') into a PCRE2 class, moving *p past it. In POSIX
 * brackets a backslash is a member like any other character. */
static int translate_bracket(const char **p, hitl_buf *out, char *msg, size_t msg_size) {
  const char *q = *p + 1;
  hitl_buf_putc(out, '[');
  if (*q == '^') {
    hitl_buf_putc(out, '^');
    q++;
  }
  if (*q == ']') { /* First: a member. */
    hitl_buf_puts(out, "\\]");
    q++;
  }
  while (*q && *q != ']') {
    if (q[0] == '[' && q[1] == ':') {
      const char *end = strstr(q + 2, ":]");
      if (end == NULL) break;
      hitl_buf_append(out, q, (size_t)(end + 2 - q)); /* PCRE2 knows the same class names. */
      q = end + 2;
    } else if (q[0] == '[' && (q[1] == '.' || q[1] == '=')) {
      char close[3] = {q[1], ']', '\0'};
      const char *end = strstr(q + 2, close);
      if (end == NULL) break;
      size_t n = (size_t)(end - (q + 2));
      if (n == 0 || char_len(q + 2) != n) {
        snprintf(msg, msg_size, "collating elements other than one character (\"[%c%.*s%c]\") are "
                                "not supported", q[1], (int)(n > 20 ? 20 : n), q + 2, q[1]);
        return HITL_EVALIDATION;
      }
      put_literal(out, q + 2, n); /* "[.-.]" and "[=e=]" name one character. */
      q = end + 2;
    } else {
      size_t n = char_len(q);
      if (*q == '\\' || *q == '[' || *q == '^')
        hitl_buf_putc(out, '\\');
      hitl_buf_append(out, q, n);
      q += n;
    }
  }
  if (*q != ']') {
    snprintf(msg, msg_size, "a bracket expression \"[\" is not closed by \"]\"");
    return HITL_EVALIDATION;
  }
  hitl_buf_putc(out, ']');
  *p = q + 1;
  return 0;
}

/* Writes the PCRE2 pattern that matches what the POSIX extended expression pattern matches into
 * out: anchored at the start with ".*" before it, so that the DFA matcher finds a match
 * anywhere in one pass. A repetition of a repetition ("a+*", "a{2}{3}") is grouped first, as in
 * POSIX, rather than read as PCRE2's lazy or possessive forms. Returns 0 or HITL_EVALIDATION. */
static int translate(const char *pattern, hitl_buf *out, char *msg, size_t msg_size) {
  size_t groups[HITL_POLICY_REGEX_MAX_GROUPS]; /* Where each open group starts in out. */
  int depth = 0;
  long atom = -1;       /* Where the latest atom starts in out; -1: nothing to repeat. */
  bool repeated = false; /* That atom already carries a repetition. */
  const char *p = pattern;
  hitl_buf_puts(out, ".*(?:");
  while (*p) {
    char c = *p;
    if (c == '*' || c == '+' || c == '?' || c == '{') {
      long min = 0, max = 0;
      const char *q = p;
      if (c == '{' && !read_interval(&q, &min, &max)) {
        snprintf(msg, msg_size, "\"{\" must start an interval such as {3}, {1,3} or {2,}");
        return HITL_EVALIDATION;
      }
      if (c == '{' && max >= 0 && max < min) {
        snprintf(msg, msg_size, "an interval's upper bound is below its lower bound");
        return HITL_EVALIDATION;
      }
      if (atom < 0) {
        snprintf(msg, msg_size, "a repetition (\"%c\") must follow something to repeat", c);
        return HITL_EVALIDATION;
      }
      if (repeated) { /* Wrap what is there: "(?:" before the atom, ")" after it. */
        size_t at = (size_t)atom, tail = out->len - at;
        hitl_buf_append(out, "(?:", 3);
        memmove(out->data + at + 3, out->data + at, tail);
        memcpy(out->data + at, "(?:", 3);
        hitl_buf_putc(out, ')');
      }
      if (c == '{') {
        if (max < 0)
          hitl_buf_printf(out, "{%ld,}", min);
        else if (max == min)
          hitl_buf_printf(out, "{%ld}", min);
        else
          hitl_buf_printf(out, "{%ld,%ld}", min, max);
        p = q;
      } else {
        hitl_buf_putc(out, c);
        p++;
      }
      repeated = true;
      continue;
    }
    repeated = false;
    long start = (long)out->len;
    switch (c) {
    case '\\': {
      char e = p[1];
      if (e == '\0') {
        snprintf(msg, msg_size, "it ends with a lone backslash");
        return HITL_EVALIDATION;
      }
      p += 2;
      if (strchr("wWsS", e)) { /* GNU classes: ASCII, as in the C locale. */
        hitl_buf_putc(out, '\\');
        hitl_buf_putc(out, e);
        break;
      }
      /* The rest are assertions (nothing to repeat) or a literal. Word boundaries are spelt
       * with lookarounds: PCRE2's DFA matcher reports "\b" at the end of a cut string as a
       * match, but a lookahead there as partial, which is what a cut string needs. */
      start = -1;
      if (e == 'b')
        hitl_buf_puts(out, "(?:(?<=\\w)(?!\\w)|(?<!\\w)(?=\\w))");
      else if (e == 'B')
        hitl_buf_puts(out, "(?:(?<=\\w)(?=\\w)|(?<!\\w)(?!\\w))");
      else if (e == '<')
        hitl_buf_puts(out, "(?<!\\w)(?=\\w)");
      else if (e == '>')
        hitl_buf_puts(out, "(?<=\\w)(?!\\w)");
      else if (e == '`')
        hitl_buf_puts(out, "\\A");
      else if (e == '\'')
        hitl_buf_puts(out, "\\z");
      else {
        size_t n = char_len(p - 1);
        start = (long)out->len;
        put_literal(out, p - 1, n); /* "\." is ".", "\d" is "d": POSIX has no other escapes. */
        p += n - 1;
      }
      break;
    }
    case '[':
      if (translate_bracket(&p, out, msg, msg_size) < 0) return HITL_EVALIDATION;
      break;
    case '(':
      groups[depth++] = out->len; /* regex_check bounded the depth. */
      hitl_buf_puts(out, "(?:");
      start = -1;
      p++;
      break;
    case ')':
      if (depth == 0) { /* As in glibc, a ")" with no "(" open is a character. */
        hitl_buf_puts(out, "\\)");
      } else {
        hitl_buf_putc(out, ')');
        start = (long)groups[--depth];
      }
      p++;
      break;
    case '|':
    case '^':
    case '$':
      hitl_buf_putc(out, c);
      start = -1;
      p++;
      break;
    case '.':
      hitl_buf_putc(out, '.');
      p++;
      break;
    default: {
      size_t n = char_len(p);
      put_literal(out, p, n);
      p += n;
      break;
    }
    }
    atom = start;
  }
  if (depth > 0) {
    snprintf(msg, msg_size, "a \"(\" is not closed by \")\"");
    return HITL_EVALIDATION;
  }
  hitl_buf_putc(out, ')');
  return 0;
}

/* ---- Compiling and matching ---------------------------------------------------------------- */

int hitl__regex_compile(const char *pattern, hitl_regex **out, char *msg, size_t msg_size) {
  char scratch[1];
  if (msg == NULL || msg_size == 0) {
    msg = scratch;
    msg_size = sizeof scratch;
  }
  *out = NULL;
  hitl_buf text = HITL_BUF_INIT;
  int rc = regex_check(pattern, msg, msg_size);
  if (rc == 0) rc = translate(pattern, &text, msg, msg_size);
  if (rc < 0) {
    hitl_buf_free(&text);
    return HITL_EVALIDATION;
  }
  int code;
  PCRE2_SIZE offset;
  /* UTF: "." and brackets take whole characters. DOTALL: "." takes a newline, and DOLLAR_ENDONLY:
   * "$" is the end only, as in POSIX. No captures: nothing reads them. */
  pcre2_code *compiled = pcre2_compile(
      (PCRE2_SPTR)text.data, text.len,
      PCRE2_ANCHORED | PCRE2_UTF | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE,
      &code, &offset, NULL);
  hitl_buf_free(&text);
  if (compiled == NULL) {
    PCRE2_UCHAR reason[160];
    if (pcre2_get_error_message(code, reason, sizeof reason) < 0) snprintf((char *)reason, sizeof reason, "error %d", code);
    snprintf(msg, msg_size, "%s", (const char *)reason);
    return HITL_EVALIDATION;
  }
  hitl_regex *re = hitl_xcalloc(1, sizeof *re);
  re->code = compiled;
  re->limits = pcre2_match_context_create(NULL);
  if (re->limits == NULL) abort(); /* As hitl_xmalloc does when memory runs out. */
  pcre2_set_match_limit(re->limits, MATCH_LIMIT);
  pcre2_set_depth_limit(re->limits, DEPTH_LIMIT);
  pcre2_set_heap_limit(re->limits, HEAP_LIMIT_KIB);
  *out = re;
  return 0;
}

/* The largest length up to max that ends on a UTF-8 character boundary of s. */
static size_t utf8_cut(const char *s, size_t max) {
  size_t n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

int hitl__regex_match(const hitl_regex *re, const char *s, size_t n, const char **why) {
  int workspace[HITL_POLICY_REGEX_WORKSPACE];
  uint32_t options = PCRE2_DFA_SHORTEST; /* Stop at the first match: only its existence counts. */
  bool cut = n > HITL_POLICY_REGEX_MAX_TEXT;
  *why = NULL;
  if (cut) {
    /* Past the cut only a match that needs nothing further counts: with PARTIAL_HARD, one that
     * reaches the end of the prefix (or asks what follows, as "$" and "\b" do) is partial. */
    n = utf8_cut(s, HITL_POLICY_REGEX_MAX_TEXT);
    options |= PCRE2_PARTIAL_HARD;
  }
  pcre2_match_data *md = pcre2_match_data_create(1, NULL);
  if (md == NULL) return HITL_EUNAVAILABLE;
  int rc = pcre2_dfa_match(re->code, (PCRE2_SPTR)(n ? s : ""), n, 0, options, md, re->limits,
                           workspace, HITL_POLICY_REGEX_WORKSPACE);
  pcre2_match_data_free(md);
  if (rc >= 0) return HITL_REGEX_MATCH;
  switch (rc) {
  case PCRE2_ERROR_NOMATCH:
    if (!cut) return HITL_REGEX_NO_MATCH;
    /* No match in the prefix says nothing about the rest. */
    __attribute__((fallthrough));
  case PCRE2_ERROR_PARTIAL: *why = "text_too_long"; break;
  case PCRE2_ERROR_DFA_WSSIZE: *why = "state_limit"; break;
  case PCRE2_ERROR_MATCHLIMIT: *why = "match_limit"; break;
  case PCRE2_ERROR_DEPTHLIMIT:
  case PCRE2_ERROR_DFA_RECURSE: *why = "depth_limit"; break;
  case PCRE2_ERROR_HEAPLIMIT: *why = "heap_limit"; break;
  case PCRE2_ERROR_NOMEMORY: return HITL_EUNAVAILABLE;
  default: *why = rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21 ? "invalid_utf8" : "match_error"; break;
  }
  return HITL_REGEX_UNDECIDED;
}

void hitl__regex_free(hitl_regex *re) {
  if (re == NULL) return;
  pcre2_code_free(re->code);
  pcre2_match_context_free(re->limits);
  free(re);
}

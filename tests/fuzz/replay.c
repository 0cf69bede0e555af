/* SPDX-License-Identifier: MIT */
/* Replays a fuzz target's corpus: runs LLVMFuzzerTestOneInput on every file of the given dirs. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Reads the whole file at path into *data (malloc'd, the caller frees it). Returns 0 or -1. */
static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = -1;
  if (f == NULL) return -1;
  for (;;) {
    if (len == cap) {
      cap = cap ? 2 * cap : 4096;
      uint8_t *grown = realloc(buf, cap);
      if (grown == NULL) goto cleanup;
      buf = grown;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  if (ferror(f)) goto cleanup;
  /* An allocation of exactly the input's size, so that AddressSanitizer sees any read past it. */
  if ((*data = malloc(len ? len : 1)) == NULL) goto cleanup;
  if (len) memcpy(*data, buf, len);
  *size = len;
  rc = 0;
cleanup:
  free(buf);
  fclose(f);
  return rc;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir through the target, in name order. Returns the number run, or
 * -1 when dir or one of its files cannot be read. */
static int replay_dir(const char *dir) {
  DIR *d = opendir(dir);
  char **names = NULL;
  size_t n = 0, cap = 0;
  int count = -1;
  if (d == NULL) {
    fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
    return -1;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **grown = realloc(names, cap * sizeof *names);
      if (grown == NULL) goto cleanup;
      names = grown;
    }
    if ((names[n] = strdup(e->d_name)) == NULL) goto cleanup;
    n++;
  }
  qsort(names, n, sizeof *names, by_name);
  count = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    uint8_t *data = NULL;
    size_t size = 0;
    if (read_file(path, &data, &size) != 0) {
      fprintf(stderr, "replay: cannot read %s\n", path);
      count = -1;
      goto cleanup;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    count++;
  }
cleanup:
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  closedir(d);
  return count;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DIR...\n", argv[0]);
    return 2;
  }
  int total = 0;
  for (int i = 1; i < argc; i++) {
    int n = replay_dir(argv[i]);
    if (n < 0) return 1;
    total += n;
  }
  fprintf(stderr, "replay: %d inputs, no failure\n", total);
  return 0;
}

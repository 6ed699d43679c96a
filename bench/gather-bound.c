// The machine's bound for the `cat3` scan's costliest step, without palimpsest: copying
// one string in ten (about 100,000 of 38-52 bytes) out of a 1M-string column (45 MB of
// values), from cold caches, into one output, split between `threads` threads.
//   gcc -O2 -pthread bench/gather-bound.c -o /tmp/gather-bound && /tmp/gather-bound 2
// Prints the best and mean of 30 copies, each after writing 256 MB elsewhere (as the
// bench's gc() leaves the caches cold). See bench/MISSES.md, session 15.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS 1000000
#define EVICT (256 << 20)

static int32_t *offsets;
static char *values;
static uint32_t *picks;
static size_t *starts; // where each pick's string goes in `out`
static char *out;

struct share {
  int from, to;
};

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// One fixed 64-byte move per string, as palimpsest's gather does (the strings after it
// overwrite the excess).
static void *copy(void *arg) {
  const struct share *s = arg;
  for (int k = s->from; k < s->to; k++) {
    const uint32_t r = picks[k];
    memcpy(out + starts[k], values + offsets[r], 64);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 16) return 1;
  offsets = malloc((ROWS + 1) * sizeof *offsets);
  values = malloc((size_t)ROWS * 64);
  picks = malloc(ROWS * sizeof *picks);
  srand(1);
  offsets[0] = 0;
  for (int i = 0; i < ROWS; i++) offsets[i + 1] = offsets[i] + 38 + rand() % 15;
  for (int32_t i = 0; i < offsets[ROWS]; i++) values[i] = (char)i;
  int n = 0;
  for (int i = 0; i < ROWS; i++)
    if (rand() % 10 == 3) picks[n++] = i;
  starts = malloc((n + 1) * sizeof *starts);
  starts[0] = 0;
  for (int k = 0; k < n; k++) starts[k + 1] = starts[k] + offsets[picks[k] + 1] - offsets[picks[k]];
  out = calloc(starts[n] + 64, 1);
  char *evict = malloc(EVICT);
  double best = 1e9, total = 0;
  const int rounds = 30;
  for (int round = 0; round < rounds; round++) {
    memset(evict, round, EVICT);
    const double t0 = now_ms();
    pthread_t workers[16];
    struct share shares[16];
    for (int t = 0; t < threads; t++) {
      shares[t].from = (int)((long)n * t / threads);
      shares[t].to = (int)((long)n * (t + 1) / threads);
      if (t > 0) pthread_create(&workers[t], NULL, copy, &shares[t]);
    }
    copy(&shares[0]);
    for (int t = 1; t < threads; t++) pthread_join(workers[t], NULL);
    const double ms = now_ms() - t0;
    total += ms;
    if (ms < best) best = ms;
  }
  printf("%d strings (%.1f MB of %.1f MB) on %d thread(s): best %.3f ms, mean %.3f ms\n", n,
         starts[n] / 1e6, offsets[ROWS] / 1e6, threads, best, total / rounds);
  return 0;
}

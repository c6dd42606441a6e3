/* Stands in for glibc's benchtests/bench-timing.h, which needs glibc's
   internal headers: the same macros, in nanoseconds of CLOCK_MONOTONIC.  */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

typedef uint64_t timing_t;

#define TIMING_TYPE "clock_gettime"
#define TIMING_NOW(var)                                                 \
  do                                                                    \
    {                                                                   \
      struct timespec ts_;                                              \
      clock_gettime (CLOCK_MONOTONIC, &ts_);                            \
      (var) = ts_.tv_sec * 1000000000ULL + ts_.tv_nsec;                 \
    }                                                                   \
  while (0)
#define TIMING_DIFF(diff, start, end) ((diff) = (end) - (start))
#define TIMING_ACCUM(sum, diff) ((sum) += (diff))
#define TIMING_PRINT_MEAN(d_total_s, d_iters)   \
  printf ("\t%g", (d_total_s) / (d_iters))

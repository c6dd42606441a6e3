/* What a lifetime costs a sample: the profiler reads CLOCK_MONOTONIC
   through the vDSO when a sampled block is made and when it is freed.
   Prints the ns per read of that clock and, on x86, of the time stamp
   counter, the cheapest clock there is, as the floor.
   Usage: bench/clock [N].  */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#if defined __x86_64__ || defined __i386__
# include <x86intrin.h>
#endif

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 10000000;
  unsigned long long sink = 0;
  struct timespec ts;
  double start = now ();
  for (long i = 0; i < n; i++)
    {
      clock_gettime (CLOCK_MONOTONIC, &ts);
      sink += ts.tv_nsec;
    }
  printf ("CLOCK_MONOTONIC %.1f ns\n", (now () - start) / n);
#if defined __x86_64__ || defined __i386__
  start = now ();
  for (long i = 0; i < n; i++)
    sink += __rdtsc ();
  printf ("rdtsc %.1f ns\n", (now () - start) / n);
#endif
  return sink == 42;
}

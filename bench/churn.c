/* Malloc/free churn of 16-528 byte blocks in one thread: the workload the
   issues quote.  PAIRS malloc+free pairs over a working set of 256 blocks,
   run DEPTH frames below main so that stack walking has something to walk.
   Prints nanoseconds per pair.

   churn PAIRS [DEPTH]  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SLOTS 256

static void *slots[SLOTS];

static uint64_t
next (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void __attribute__ ((noinline))
churn (long pairs)
{
  uint64_t s = 88172645463325252ULL;
  for (long i = 0; i < pairs; i++)
    {
      uint64_t r = next (&s);
      unsigned int slot = r % SLOTS;
      free (slots[slot]);
      slots[slot] = malloc (16 + (r >> 32) % 513);
    }
}

/* The asm keeps GCC from turning the recursion into a loop.  */
static void __attribute__ ((noinline))
descend (int depth, long pairs)
{
  if (depth > 0)
    descend (depth - 1, pairs);
  else
    churn (pairs);
  __asm__ volatile ("" ::: "memory");
}

int
main (int argc, char **argv)
{
  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: churn PAIRS [DEPTH]\n");
      return 2;
    }
  long pairs = atol (argv[1]);
  int depth = argc > 2 ? atoi (argv[2]) : 0;
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  descend (depth, pairs);
  clock_gettime (CLOCK_MONOTONIC, &b);
  for (int i = 0; i < SLOTS; i++)
    free (slots[i]);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf ("%.3f\n", ns / pairs);
  return 0;
}

/* Cross-thread churn, larson-style: PAIRS producer threads allocate blocks
   of 16-528 bytes and hand them through a ring to a consumer thread each,
   which frees them, so every block is freed by a thread other than the one
   that allocated it.  Prints nanoseconds per block (wall time / blocks).

   prodcons BLOCKS_PER_PAIR [PAIRS]  */

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RING 1024

struct ring
{
  void *slot[RING];
  _Atomic size_t head __attribute__ ((aligned (64)));
  _Atomic size_t tail __attribute__ ((aligned (64)));
  long blocks;
  uint64_t seed;
};

static void *
produce (void *arg)
{
  struct ring *r = arg;
  uint64_t s = r->seed;
  for (long i = 0; i < r->blocks; i++)
    {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      void *p = malloc (16 + s % 513);
      size_t h = atomic_load_explicit (&r->head, memory_order_relaxed);
      while (h - atomic_load_explicit (&r->tail, memory_order_acquire) == RING)
        sched_yield ();
      r->slot[h % RING] = p;
      atomic_store_explicit (&r->head, h + 1, memory_order_release);
    }
  return NULL;
}

static void *
consume (void *arg)
{
  struct ring *r = arg;
  for (long i = 0; i < r->blocks; i++)
    {
      size_t t = atomic_load_explicit (&r->tail, memory_order_relaxed);
      while (atomic_load_explicit (&r->head, memory_order_acquire) == t)
        sched_yield ();
      free (r->slot[t % RING]);
      atomic_store_explicit (&r->tail, t + 1, memory_order_release);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc < 2 || argc > 3)
    {
      fprintf (stderr, "usage: prodcons BLOCKS_PER_PAIR [PAIRS]\n");
      return 2;
    }
  long blocks = atol (argv[1]);
  int pairs = argc > 2 ? atoi (argv[2]) : 1;
  struct ring *rings = aligned_alloc (64, pairs * sizeof *rings);
  pthread_t *t = calloc (2 * pairs, sizeof *t);
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (int i = 0; i < pairs; i++)
    {
      atomic_init (&rings[i].head, 0);
      atomic_init (&rings[i].tail, 0);
      rings[i].blocks = blocks;
      rings[i].seed = 88172645463325252ULL + i;
      pthread_create (&t[2 * i], NULL, produce, &rings[i]);
      pthread_create (&t[2 * i + 1], NULL, consume, &rings[i]);
    }
  for (int i = 0; i < 2 * pairs; i++)
    pthread_join (t[i], NULL);
  clock_gettime (CLOCK_MONOTONIC, &b);
  double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
  printf ("%.3f\n", ns / ((double) blocks * pairs));
  return 0;
}

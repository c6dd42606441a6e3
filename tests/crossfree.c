/* Producer threads allocate blocks of 16-528 bytes and hand them through
   a ring to consumer threads, which free them (one in four after a
   realloc), so that blocks are freed by other threads while their
   neighbours in the heap are allocated and freed.  Exits 0 when done.

   crossfree BLOCKS_PER_PAIR PAIRS  */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING 256

struct ring
{
  void *slot[RING];
  _Atomic size_t head;
  _Atomic size_t tail;
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
      size_t size = 16 + s % 513;
      void *p = malloc (size);
      memset (p, 1, size);
      size_t h = atomic_load (&r->head);
      while (h - atomic_load (&r->tail) == RING)
        sched_yield ();
      r->slot[h % RING] = p;
      atomic_store (&r->head, h + 1);
    }
  return NULL;
}

static void *
consume (void *arg)
{
  struct ring *r = arg;
  for (long i = 0; i < r->blocks; i++)
    {
      size_t t = atomic_load (&r->tail);
      while (atomic_load (&r->head) == t)
        sched_yield ();
      void *p = r->slot[t % RING];
      atomic_store (&r->tail, t + 1);
      if (i % 4 == 0)
        p = realloc (p, 600);
      free (p);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  long blocks = atol (argv[1]);
  int pairs = atoi (argv[2]);
  struct ring *rings = calloc (pairs, sizeof *rings);
  pthread_t *t = calloc (2 * pairs, sizeof *t);
  for (int i = 0; i < pairs; i++)
    {
      rings[i].blocks = blocks;
      rings[i].seed = 88172645463325252ULL + i;
      pthread_create (&t[2 * i], NULL, produce, &rings[i]);
      pthread_create (&t[2 * i + 1], NULL, consume, &rings[i]);
    }
  for (int i = 0; i < 2 * pairs; i++)
    pthread_join (t[i], NULL);
  return 0;
}

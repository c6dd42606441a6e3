/* switch OFFSET_ALLOC OFFSET_FREE [alone]: how soon threads start
   sampling for the memory probes once their semaphores are raised, as a
   consumer's attach raises them (bench/probes.py).  Run with
   GLIBC_MALLOC_PROFILE_BYTES=1, so that every counted request is a
   sample: a thread's first sampled block is its first counted request.
   Thread A makes requests that the thread cache does not meet (2000
   bytes); thread B's all hit it (32 bytes, freed at once).  Once both
   have run a while, the main thread raises the semaphores; each thread
   counts its requests until its first sampled block.  With "alone",
   thread A makes no request.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "semaphores.h"

#define LIMIT 10000000L

static atomic_int raised;
static atomic_long warm;

/* A sampled block's fake chunk header: an odd prev_size, IS_MMAPPED.  */
static int
sampled (void *p)
{
  size_t *h = (size_t *) p - 2;
  return (h[0] & 1) && (h[1] & 2);
}

static void *
run (void *arg)
{
  size_t size = (size_t) arg;
  long i, after = -1, first = -1;
  for (i = 0; i < LIMIT && first < 0; i++)
    {
      if (after < 0 && atomic_load (&raised))
	after = i;
      void *p = malloc (size);
      if (sampled (p) && after >= 0)
	first = i - after;
      free (p);
      if (after < 0 && i == 1000)
	atomic_fetch_add (&warm, 1);
    }
  printf ("%zu-byte requests: first sample %ld requests after the "
	  "semaphores were raised\n", size, first);
  return NULL;
}

int
main (int argc, char **argv)
{
  int alone = argc > 3;
  pthread_t a, b;
  if (!alone)
    pthread_create (&a, NULL, run, (void *) 2000);
  pthread_create (&b, NULL, run, (void *) 32);
  while (atomic_load (&warm) < 2 - alone)
    ;
  raise_semaphores (argv + 1, 2);
  atomic_store (&raised, 1);
  if (!alone)
    pthread_join (a, NULL);
  pthread_join (b, NULL);
  return 0;
}

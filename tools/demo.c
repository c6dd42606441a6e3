/* A small program with call sites of known totals, for the quick start:
   parse_records requests 64 MiB in 64-byte blocks, grow_buffer 32.1 MiB
   by growing a buffer with realloc 1 KiB at a time, load_images 48 MiB
   in 1 MiB blocks, of which it keeps the last 8 MiB in a cache that is
   never freed, and a second thread 16 MiB in 4 KiB blocks, of which it
   leaks one in four: 4 MiB.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static __attribute__ ((noinline)) void
parse_records (void)
{
  for (int i = 0; i < (1 << 20); i++)
    free (malloc (64));
}

static __attribute__ ((noinline)) void
grow_buffer (void)
{
  char *p = NULL;
  for (size_t n = 1; n <= 256; n++)
    p = realloc (p, n * 1024);
  free (p);
}

static void *cache[8];

static __attribute__ ((noinline)) void
load_images (void)
{
  for (int i = 0; i < 48; i++)
    {
      char *p = malloc (1 << 20);
      memset (p, 0, 1 << 20);
      free (cache[i % 8]);
      cache[i % 8] = p;
    }
}

static void *
worker (void *arg)
{
  (void) arg;
  pthread_setname_np (pthread_self (), "worker");
  for (int i = 0; i < 4096; i++)
    {
      void *p = malloc (4096);
      if (i % 4 != 0)
        free (p);
    }
  return NULL;
}

int
main (void)
{
  pthread_t t;
  pthread_create (&t, NULL, worker, NULL);
  parse_records ();
  grow_buffer ();
  load_images ();
  pthread_join (t, NULL);
  return 0;
}

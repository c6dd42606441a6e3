/* One buffer per thread grown or shrunk by realloc, as log buffers,
   readers that slurp a file and vectors are: each step writes the bytes
   it added.  Prints the wall seconds of the whole, threads started to
   joined, and exits with status 1 if a buffer lost its contents.

   grow linear STEP BYTES THREADS   STEP bytes at a time up to BYTES
   grow double 0 BYTES THREADS      from 4 KiB, doubling up to BYTES
   grow shrink STEP BYTES THREADS   from BYTES, STEP bytes at a time down
                                    to STEP

   BYTES is the total over the THREADS threads, each of which grows a
   buffer of BYTES / THREADS.  */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *pattern;
static size_t step, bytes;
static int failed;

/* Each 4 KiB page of the buffer holds its number.  */
static void
fill (unsigned char *p, size_t from, size_t to)
{
  while (from < to)
    {
      size_t end = (from / 4096 + 1) * 4096;
      if (end > to)
        end = to;
      memset (p + from, (unsigned char) (from / 4096), end - from);
      from = end;
    }
}

static int
intact (unsigned char *p, size_t len)
{
  for (size_t at = 0; at < len; at += 4096)
    if (p[at] != (unsigned char) (at / 4096) && p[at] != 0x5a)
      return 0;
  return 1;
}

static void *
run (void *arg)
{
  size_t total = *(size_t *) arg;
  unsigned char *p = NULL;
  size_t len = 0;
  if (strcmp (pattern, "shrink") == 0)
    {
      p = malloc (total);
      if (p == NULL)
        abort ();
      memset (p, 0x5a, total);
      for (len = total; len > step; len -= step)
        {
          p = realloc (p, len - step);
          if (p == NULL)
            abort ();
        }
      len = step;
    }
  else
    while (len < total)
      {
        size_t next = strcmp (pattern, "double") == 0
                      ? (len == 0 ? 4096 : 2 * len) : len + step;
        if (next > total)
          next = total;
        p = realloc (p, next);
        if (p == NULL)
          abort ();
        fill (p, len, next);
        len = next;
      }
  if (!intact (p, len))
    __atomic_store_n (&failed, 1, __ATOMIC_RELAXED);
  free (p);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 5)
    {
      fputs ("usage: grow linear|double|shrink STEP BYTES THREADS\n", stderr);
      return 2;
    }
  pattern = argv[1];
  step = strtoull (argv[2], NULL, 0);
  bytes = strtoull (argv[3], NULL, 0);
  int threads = atoi (argv[4]);
  if (threads < 1 || threads > 64
      || (strcmp (pattern, "double") != 0 && step == 0))
    {
      fputs ("grow: bad arguments\n", stderr);
      return 2;
    }
  size_t each = bytes / threads;
  pthread_t t[64];
  struct timespec a, b;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++)
    pthread_create (&t[i], NULL, run, &each);
  for (int i = 0; i < threads; i++)
    pthread_join (t[i], NULL);
  clock_gettime (CLOCK_MONOTONIC, &b);
  printf ("%.6f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
  if (failed)
    fputs ("grow: a buffer lost its contents\n", stderr);
  return failed;
}

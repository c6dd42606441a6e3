/* A thread that cannot get memory for its profile: its address space is
   full when it allocates for the first time.  Each of its requests is
   served from the main arena's free space, so only the profiler's mmap
   can fail.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static pthread_barrier_t barrier;

static void *
work (void *arg)
{
  (void) arg;
  pthread_barrier_wait (&barrier);
  for (int i = 0; i < 2000; i++)
    free (malloc (64));
  return NULL;
}

int
main (void)
{
  /* Room in the main arena, kept by the trim threshold.  */
  free (malloc (100000));
  pthread_t t;
  pthread_barrier_init (&barrier, NULL, 2);
  if (pthread_create (&t, NULL, work, NULL) != 0)
    return 1;
  /* Leave no room for any further mapping.  */
  FILE *f = fopen ("/proc/self/statm", "r");
  unsigned long pages;
  if (f == NULL || fscanf (f, "%lu", &pages) != 1)
    return 1;
  fclose (f);
  struct rlimit rl = { pages * 4096, RLIM_INFINITY };
  if (setrlimit (RLIMIT_AS, &rl) != 0)
    return 1;
  pthread_barrier_wait (&barrier);
  pthread_join (t, NULL);
  return 0;
}

/* stall KEYS SECONDS [THREADS]: makes KEYS profile keys (one request of
   each of KEYS sizes from 100000 bytes up, which a mean of a few KiB
   samples for certain), then THREADS threads (default 1) each time
   SECONDS of malloc (32) and free turns; prints the longest turn in
   microseconds and the number of turns, over all threads.  Prints
   "ready" on standard error when the keys are made.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds;
static double worst;
static long turns;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
work (void *arg)
{
  double start = now (), last = start, longest = 0;
  long n = 0;
  while (last - start < seconds)
    {
      void *volatile p = malloc (32);
      free (p);
      double t = now ();
      if (t - last > longest)
        longest = t - last;
      last = t;
      n++;
    }
  pthread_mutex_lock (&lock);
  if (longest > worst)
    worst = longest;
  turns += n;
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
main (int argc, char **argv)
{
  long keys = argc > 1 ? atol (argv[1]) : 1000;
  seconds = argc > 2 ? atof (argv[2]) : 2;
  int threads = argc > 3 ? atoi (argv[3]) : 1;
  pthread_t t[64];
  if (threads < 1 || threads > 64)
    return 2;
  for (long i = 0; i < keys; i++)
    {
      void *volatile p = malloc (100000 + i);
      free (p);
    }
  fprintf (stderr, "ready\n");
  for (int i = 0; i < threads; i++)
    pthread_create (&t[i], NULL, work, NULL);
  for (int i = 0; i < threads; i++)
    pthread_join (t[i], NULL);
  printf ("%.1f %ld\n", worst * 1e6, turns);
  return 0;
}

/* Blocks of known lifetimes, each kind from a call site of its own:
   about 12 us, 1.2 ms and 120 ms, blocks never freed, and blocks freed
   by another thread than the one that made them, after about 1.2 ms.
   Each lifetime is just above a bound of the profiler's buckets (10 us,
   1 ms, 100 ms), and the program measures each block's own, as the
   test's truth.  It prints, per site, the median lifetime it measured,
   the blocks it made and those that lived less than 1 ms; for the blocks
   never freed, when they were made (CLOCK_REALTIME).  */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIZE 4096

static uint64_t
now (clockid_t clock)
{
  struct timespec ts;
  clock_gettime (clock, &ts);
  return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void
spin_until (uint64_t t)
{
  while (now (CLOCK_MONOTONIC) < t)
    ;
}

/* The lifetimes measured at a site.  */
struct site
{
  const char *name;
  size_t n;
  uint64_t lifetimes[4000];
};

static int
compare (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return (x > y) - (x < y);
}

static void
report (struct site *s)
{
  qsort (s->lifetimes, s->n, sizeof s->lifetimes[0], compare);
  size_t temporary = 0;
  for (size_t i = 0; i < s->n; i++)
    temporary += s->lifetimes[i] < 1000000;
  printf ("site %s median %llu blocks %zu temporary %zu\n", s->name,
	  (unsigned long long) s->lifetimes[s->n / 2], s->n, temporary);
}

/* Make N blocks, keep them for NS nanoseconds, free them: each block's
   lifetime is measured from its malloc's return to its free's call.  */
static void
batch (struct site *s, void *(*make) (void), size_t n, uint64_t ns)
{
  void *blocks[64];
  uint64_t born[64];
  for (size_t i = 0; i < n; i++)
    {
      blocks[i] = make ();
      born[i] = now (CLOCK_MONOTONIC);
    }
  spin_until (born[n - 1] + ns);
  for (size_t i = 0; i < n; i++)
    {
      uint64_t t = now (CLOCK_MONOTONIC);
      free (blocks[i]);
      s->lifetimes[s->n++] = t - born[i];
    }
}

/* One call site per kind of block, each a function of its own.  */
#define SITE(name) \
  static __attribute__ ((noipa)) void * \
  name (void) \
  { \
    return malloc (SIZE); \
  }

SITE (site_10us)
SITE (site_1ms)
SITE (site_100ms)
SITE (site_never)
SITE (site_cross)

static struct site s10us = { "site_10us" }, s1ms = { "site_1ms" },
  s100ms = { "site_100ms" }, scross = { "site_cross" };

/* A block handed to the other thread, and when it was made.  */
static struct
{
  void *block;
  uint64_t born;
} handed[2000];
static size_t nhanded;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;

static void *
freer (void *arg)
{
  size_t next = 0;
  for (;;)
    {
      pthread_mutex_lock (&lock);
      while (next == nhanded && !done)
	pthread_cond_wait (&cond, &lock);
      size_t n = nhanded;
      pthread_mutex_unlock (&lock);
      if (next == n)
	return NULL;
      for (; next < n; next++)
	{
	  spin_until (handed[next].born + 1200000);
	  uint64_t t = now (CLOCK_MONOTONIC);
	  free (handed[next].block);
	  scross.lifetimes[scross.n++] = t - handed[next].born;
	}
    }
}

int
main (int argc, char **argv)
{
  enum { NEVER = 200 };
  static void *kept[NEVER];
  uint64_t made = now (CLOCK_REALTIME);
  for (int i = 0; i < NEVER; i++)
    kept[i] = site_never ();
  printf ("never made %llu blocks %d\n", (unsigned long long) made, NEVER);

  pthread_t thread;
  if (pthread_create (&thread, NULL, freer, NULL) != 0)
    return 1;
  for (int round = 0; round < 50; round++)
    {
      pthread_mutex_lock (&lock);
      for (int i = 0; i < 40; i++, nhanded++)
	{
	  handed[nhanded].block = site_cross ();
	  handed[nhanded].born = now (CLOCK_MONOTONIC);
	}
      pthread_cond_signal (&cond);
      pthread_mutex_unlock (&lock);
      batch (&s1ms, site_1ms, 60, 1200000);
    }
  for (int round = 0; round < 3000; round++)
    batch (&s10us, site_10us, 1, 12000);
  for (int round = 0; round < 5; round++)
    batch (&s100ms, site_100ms, 60, 120000000);
  pthread_mutex_lock (&lock);
  done = 1;
  pthread_cond_signal (&cond);
  pthread_mutex_unlock (&lock);
  pthread_join (thread, NULL);
  report (&s10us);
  report (&s1ms);
  report (&s100ms);
  report (&scross);
  /* So that the blocks never freed are still allocated at exit.  */
  printf ("kept %p\n", kept[NEVER - 1]);
  fflush (stdout);
  /* A pause for a dump from outside.  */
  if (argc > 1)
    sleep (atoi (argv[1]));
  return 0;
}

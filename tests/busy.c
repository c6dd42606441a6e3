/* busy SECONDS: 8 threads allocate and free blocks of many sizes at four
   call sites, and a ninth starts and joins short threads that allocate
   too, for SECONDS, or with "-" until the end of standard input; then
   every thread is joined and the process exits.  Prints "ready" once
   they all run.  For dumps taken meanwhile.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 8
#define KEEP 256

static volatile int stop;

static __attribute__ ((noinline)) void *
site_a (size_t n)
{
  return malloc (n);
}

static __attribute__ ((noinline)) void *
site_b (size_t n)
{
  return calloc (1, n);
}

static __attribute__ ((noinline)) void *
site_c (size_t n)
{
  return malloc (n);
}

static __attribute__ ((noinline)) void *
site_d (void *old, size_t n)
{
  return realloc (old, n);
}

static void *
work (void *arg)
{
  unsigned int seed = (unsigned int) (long) arg;
  void *keep[KEEP] = { 0 };
  while (!stop)
    for (int i = 0; i < 1000; i++)
      {
        int k = rand_r (&seed) % KEEP;
        size_t n = 1 + rand_r (&seed) % 512;
        switch (rand_r (&seed) % 4)
          {
          case 0:
            free (keep[k]);
            keep[k] = site_a (n);
            break;
          case 1:
            free (keep[k]);
            keep[k] = site_b (n);
            break;
          case 2:
            free (keep[k]);
            keep[k] = site_c (n);
            break;
          default:
            keep[k] = site_d (keep[k], n);
          }
      }
  for (int k = 0; k < KEEP; k++)
    free (keep[k]);
  return NULL;
}

static void *
short_lived (void *arg)
{
  for (int i = 0; i < 100; i++)
    free (site_a (100));
  return malloc (64);
}

static void *
spawner (void *arg)
{
  while (!stop)
    {
      pthread_t t;
      void *leak;
      if (pthread_create (&t, NULL, short_lived, NULL) == 0)
        {
          pthread_join (t, &leak);
          free (leak);
        }
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  int until_eof = argc > 1 && strcmp (argv[1], "-") == 0;
  int seconds = argc > 1 ? atoi (argv[1]) : 3;
  pthread_t t[THREADS + 1];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create (&t[i], NULL, work, (void *) (long) (i + 1)) != 0)
      return 1;
  if (pthread_create (&t[THREADS], NULL, spawner, NULL) != 0)
    return 1;
  printf ("ready\n");
  fflush (stdout);
  if (until_eof)
    {
      char c;
      while (read (0, &c, 1) > 0)
        ;
    }
  else
    sleep (seconds);
  stop = 1;
  for (int i = 0; i <= THREADS; i++)
    pthread_join (t[i], NULL);
  return 0;
}

/* A process for mprof dump to look at while it waits.

   idle read: allocates at the sites below (one function each) in the
   main thread, in a thread that exits and in one that waits, prints
   "site NAME ADDRESS REQUESTS LIVE SIZE" for each with the blocks it
   still holds, then "ready", and waits in read (0).  Each line read
   adds NGROW blocks at site_grow, and the sites and "ready" are printed
   again; at the end of input it frees everything, prints "done" and
   exits.
   idle mutex: the same sites, then the waiting thread and the main
   thread block for good on a mutex the main thread holds.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 2000
#define NGROW 1000

static void *keep[N], *half[2 * N], *exited[N / 2], *waiting[N / 2];
static void **grown;
static int ngrown;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done, mutex_mode;

#define SITE(name, size)                                                \
  static __attribute__ ((noinline)) void *name (void)                   \
  {                                                                     \
    void *p = malloc (size);                                            \
    if (p == NULL)                                                      \
      abort ();                                                         \
    memset (p, 1, size);                                                \
    return p;                                                           \
  }
SITE (site_keep, 4096)
SITE (site_freed, 4096)
SITE (site_half, 1024)
SITE (site_exited, 8192)
SITE (site_exited_freed, 2048)
SITE (site_waiting, 2048)
SITE (site_grow, 4096)

static void
report (void)
{
  printf ("site site_keep %p %d %d 4096\n", site_keep, N, N);
  printf ("site site_freed %p %d 0 4096\n", site_freed, N);
  printf ("site site_half %p %d %d 1024\n", site_half, 2 * N, N);
  printf ("site site_exited %p %d %d 8192\n", site_exited, N / 2, N / 2);
  printf ("site site_exited_freed %p %d 0 2048\n", site_exited_freed, N / 2);
  printf ("site site_waiting %p %d %d 2048\n", site_waiting, N / 2, N / 2);
  printf ("site site_grow %p %d %d 4096\n", site_grow, ngrown, ngrown);
  printf ("ready\n");
  fflush (stdout);
}

static void *
exiting_thread (void *arg)
{
  void **freed = arg;
  for (int i = 0; i < N / 2; i++)
    {
      exited[i] = site_exited ();
      freed[i] = site_exited_freed ();
    }
  return NULL;
}

static void *
waiting_thread (void *arg)
{
  for (int i = 0; i < N / 2; i++)
    waiting[i] = site_waiting ();
  pthread_mutex_lock (&lock);
  while (!done)
    pthread_cond_wait (&done_cond, &lock);
  pthread_mutex_unlock (&lock);
  return NULL;
}

int
main (int argc, char **argv)
{
  mutex_mode = argc > 1 && strcmp (argv[1], "mutex") == 0;
  static void *freed[N / 2];
  pthread_t t;
  if (pthread_create (&t, NULL, exiting_thread, freed) != 0
      || pthread_join (t, NULL) != 0)
    return 1;
  for (int i = 0; i < N / 2; i++)
    free (freed[i]);
  for (int i = 0; i < N; i++)
    {
      keep[i] = site_keep ();
      free (site_freed ());
    }
  for (int i = 0; i < 2 * N; i++)
    {
      half[i] = site_half ();
      if (i % 2)
        {
          free (half[i]);
          half[i] = NULL;
        }
    }
  if (mutex_mode)
    pthread_mutex_lock (&lock);
  pthread_t w;
  if (pthread_create (&w, NULL, waiting_thread, NULL) != 0)
    return 1;
  /* The waiting thread has made its blocks once it waits.  */
  while (!mutex_mode && pthread_mutex_trylock (&lock) == 0)
    {
      int ready = waiting[N / 2 - 1] != NULL;
      pthread_mutex_unlock (&lock);
      if (ready)
        break;
      usleep (1000);
    }
  if (mutex_mode)
    {
      while (__atomic_load_n (&waiting[N / 2 - 1], __ATOMIC_ACQUIRE) == NULL)
        usleep (1000);
      report ();
      pthread_mutex_lock (&lock);
      return 1;
    }
  report ();
  char line[64];
  while (fgets (line, sizeof line, stdin) != NULL)
    {
      grown = realloc (grown, (ngrown + NGROW) * sizeof *grown);
      for (int i = 0; i < NGROW; i++)
        grown[ngrown++] = site_grow ();
      report ();
    }
  pthread_mutex_lock (&lock);
  done = 1;
  pthread_cond_signal (&done_cond);
  pthread_mutex_unlock (&lock);
  pthread_join (w, NULL);
  for (int i = 0; i < N; i++)
    free (keep[i]);
  for (int i = 0; i < 2 * N; i++)
    free (half[i]);
  for (int i = 0; i < N / 2; i++)
    free (exited[i]), free (waiting[i]);
  for (int i = 0; i < ngrown; i++)
    free (grown[i]);
  free (grown);
  printf ("done\n");
  return 0;
}

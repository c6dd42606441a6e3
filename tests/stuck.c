/* Threads stopped in the middle of a sample must not hold up a dump for
   long.  THREADS threads sample every request from deep stacks until a
   SIGUSR1 handler that never returns stops each, most of them inside
   the profiler's slow path, where a stack walk of 60 frames spends most
   of a sample; then the main thread exits, which dumps.

   stuck THREADS  */

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static atomic_int stopped;

static void
stop (int sig)
{
  atomic_fetch_add (&stopped, 1);
  for (;;)
    pause ();
}

/* The asm keeps GCC from turning the recursion into a loop.  */
static void __attribute__ ((noinline))
deep (int depth)
{
  if (depth > 0)
    deep (depth - 1);
  else
    for (;;)
      free (malloc (1000));
  __asm__ volatile ("" ::: "memory");
}

static void *
work (void *arg)
{
  deep (60);
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fprintf (stderr, "usage: stuck THREADS\n");
      return 2;
    }
  int n = atoi (argv[1]);
  pthread_t t[64];
  if (n < 1 || n > 64)
    return 2;
  struct sigaction sa = { .sa_handler = stop };
  sigaction (SIGUSR1, &sa, NULL);
  for (int i = 0; i < n; i++)
    pthread_create (&t[i], NULL, work, NULL);
  usleep (100000);
  for (int i = 0; i < n; i++)
    pthread_kill (t[i], SIGUSR1);
  while (atomic_load (&stopped) < n)
    usleep (1000);
  return 0;
}

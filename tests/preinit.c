/* A thread that a DT_PREINIT_ARRAY function starts, before libc's
   constructor loads the profiler, has its requests after that sampled
   as any thread's: it makes one request before the function returns,
   then, once main runs, holds 100 blocks of 1000 bytes.  */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_int ready, go;
static void *keep[100];
static pthread_t thread;

static void *
early (void *arg)
{
  free (malloc (2000));
  atomic_store (&ready, 1);
  while (!atomic_load (&go))
    sched_yield ();
  for (int i = 0; i < 100; i++)
    keep[i] = malloc (1000);
  return NULL;
}

static void
start (int argc, char **argv, char **envp)
{
  if (pthread_create (&thread, NULL, early, NULL) != 0)
    abort ();
  while (!atomic_load (&ready))
    sched_yield ();
}

__attribute__ ((section (".preinit_array"), used))
static void (*const preinit) (int, char **, char **) = start;

int
main (void)
{
  atomic_store (&go, 1);
  pthread_join (thread, NULL);
  return 0;
}

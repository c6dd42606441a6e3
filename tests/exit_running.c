/* Three threads allocate, then block for good; the main thread calls
   exit while they still run.  Their profiles must be written too.  */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_barrier_t ready;

static void *
work (void *arg)
{
  (void) arg;
  for (int i = 0; i < 100; i++)
    free (malloc (3000));
  pthread_barrier_wait (&ready);
  for (;;)
    pause ();
  return NULL;
}

int
main (void)
{
  pthread_t t;
  pthread_barrier_init (&ready, NULL, 4);
  for (int i = 0; i < 3; i++)
    if (pthread_create (&t, NULL, work, NULL) != 0)
      return 1;
  pthread_barrier_wait (&ready);
  exit (0);
}

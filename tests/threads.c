/* threads N: N threads, named worker-1 to worker-N, and the main
   thread each allocate, then the threads are joined and the process
   exits.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *
work (void *arg)
{
  if (arg != NULL)
    {
      char name[16];
      snprintf (name, sizeof name, "worker-%d", (int) (long) arg);
      pthread_setname_np (pthread_self (), name);
    }
  for (int i = 0; i < 1000; i++)
    free (malloc (1000));
  return NULL;
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 4;
  pthread_t t[256];
  if (n < 0 || n > 256)
    return 2;
  for (int i = 0; i < n; i++)
    if (pthread_create (&t[i], NULL, work, (void *) (long) (i + 1)) != 0)
      return 1;
  work (NULL);
  for (int i = 0; i < n; i++)
    pthread_join (t[i], NULL);
  return 0;
}

/* dlopen LIB [N]: loads LIB, calls its dl_alloc, unloads it, N times
   (50 by default), while two threads allocate.  */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int stop;
static atomic_int running;

static void *
work (void *arg)
{
  (void) arg;
  for (long int i = 0; !stop; i++)
    {
      free (malloc (300));
      if (i == 1000)
        atomic_fetch_add (&running, 1);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 2 && argc != 3)
    return 2;
  int n = argc == 3 ? atoi (argv[2]) : 50;
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create (&t[i], NULL, work, NULL);
  /* Both allocate, and so have samples, while the library comes and
     goes: started first, two cores may not run them soon.  */
  while (atomic_load (&running) < 2)
    sched_yield ();
  for (int i = 0; i < n; i++)
    {
      void *h = dlopen (argv[1], RTLD_NOW);
      if (h == NULL)
        {
          fprintf (stderr, "%s\n", dlerror ());
          return 1;
        }
      void (*f) (int) = (void (*) (int)) dlsym (h, "dl_alloc");
      f (100);
      dlclose (h);
    }
  stop = 1;
  for (int i = 0; i < 2; i++)
    pthread_join (t[i], NULL);
  return 0;
}

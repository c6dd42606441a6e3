/* dlopen LIB: loads LIB, calls its dl_alloc, unloads it, 50 times,
   while two threads allocate.  */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int stop;

static void *
work (void *arg)
{
  (void) arg;
  while (!stop)
    free (malloc (300));
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    return 2;
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create (&t[i], NULL, work, NULL);
  for (int i = 0; i < 50; i++)
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

/* threads N [BATCH]: starts and joins N threads, BATCH at a time
   (default 8), each making one 64-byte allocation and freeing it;
   prints the seconds it took.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void *
work (void *arg)
{
  void *volatile p = malloc (64);
  free (p);
  return NULL;
}

int
main (int argc, char **argv)
{
  long n = argc > 1 ? atol (argv[1]) : 20000;
  int batch = argc > 2 ? atoi (argv[2]) : 8;
  pthread_t t[64];
  struct timespec a, b;
  if (batch < 1 || batch > 64)
    return 2;
  clock_gettime (CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i += batch)
    {
      int k = n - i < batch ? n - i : batch;
      for (int j = 0; j < k; j++)
        if (pthread_create (&t[j], NULL, work, NULL) != 0)
          return 1;
      for (int j = 0; j < k; j++)
        pthread_join (t[j], NULL);
    }
  clock_gettime (CLOCK_MONOTONIC, &b);
  printf ("%.6f\n", b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}

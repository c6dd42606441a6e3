/* Blocks allocated inside libc (strdup) and on a thread's stack
   (start_thread at its root), for mprof run's names of libc's frames.
   Prints each call site's requests.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2000
#define SIZE 4096

static char *volatile kept[2 * N];

static void *
thread_site (void *arg)
{
  for (int i = 0; i < N; i++)
    kept[N + i] = malloc (SIZE);
  return arg;
}

int
main (void)
{
  static char text[SIZE];
  memset (text, 'x', SIZE - 1);
  for (int i = 0; i < N; i++)
    kept[i] = strdup (text);
  pthread_t t;
  if (pthread_create (&t, NULL, thread_site, NULL) != 0
      || pthread_join (t, NULL) != 0)
    return 1;
  printf ("strdup %d %d\nthread_site %d %d\n", N, SIZE, N, SIZE);
  return 0;
}

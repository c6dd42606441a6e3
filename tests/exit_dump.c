/* exit_dump USEC: a thread allocates blocks of 5,000 sizes, which at a
   small mean and interval makes it write dump after dump of 5,000 keys,
   until the main thread calls _exit after USEC microseconds.  */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static void *
work (void *arg)
{
  (void) arg;
  for (size_t size = 1;; size = size % 5000 + 1)
    free (malloc (size * 8));
  return NULL;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    return 2;
  pthread_t t;
  if (pthread_create (&t, NULL, work, NULL) != 0)
    return 1;
  usleep (atoi (argv[1]));
  _exit (0);
}

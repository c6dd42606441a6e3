/* Allocates from known call sites, through each entry point, in four
   threads, only once told to ("go" on standard input), so that a
   consumer of libc's memory probes can attach to it first; with the
   argument "fork", a child allocates from a site of its own as well.
   Prints each site's requests and size, then "done", and exits when
   told to ("exit").  site_keep's blocks are still allocated then; the
   others' are freed.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define THREADS 4
#define KEEP 2000

static void *kept[THREADS][KEEP];

static __attribute__ ((noinline)) void
site_malloc (void)
{
  for (int i = 0; i < 200000; i++)
    free (malloc (100));
}

static __attribute__ ((noinline)) void
site_calloc (void)
{
  for (int i = 0; i < 20000; i++)
    free (calloc (1, 3000));
}

static __attribute__ ((noinline)) void
site_aligned (void)
{
  for (int i = 0; i < 20000; i++)
    free (aligned_alloc (64, 2048));
}

static __attribute__ ((noinline)) void
site_realloc (void)
{
  for (int i = 0; i < 20000; i++)
    {
      void *p = malloc (16);
      free (realloc (p, 5000));
    }
}

static __attribute__ ((noinline)) void
site_keep (int t)
{
  for (int i = 0; i < KEEP; i++)
    kept[t][i] = malloc (20000);
}

static __attribute__ ((noinline)) void
site_child (void)
{
  for (int i = 0; i < 10000; i++)
    free (malloc (7000));
}

static void *
work (void *arg)
{
  site_malloc ();
  site_calloc ();
  site_aligned ();
  site_realloc ();
  site_keep ((int) (long) arg);
  return NULL;
}

int
main (int argc, char **argv)
{
  char line[64];
  puts ("ready");
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL || strcmp (line, "go\n") != 0)
    return 2;
  pthread_t threads[THREADS];
  for (long t = 0; t < THREADS; t++)
    pthread_create (&threads[t], NULL, work, (void *) t);
  for (int t = 0; t < THREADS; t++)
    pthread_join (threads[t], NULL);
  printf ("site site_malloc %d 100\n", THREADS * 200000);
  printf ("site site_calloc %d 3000\n", THREADS * 20000);
  printf ("site site_aligned %d 2048\n", THREADS * 20000);
  printf ("site site_realloc %d 5000\n", THREADS * 20000);
  printf ("site site_keep %d 20000\n", THREADS * KEEP);
  if (argc > 1 && strcmp (argv[1], "fork") == 0)
    {
      fflush (stdout);
      pid_t child = fork ();
      if (child == 0)
	{
	  site_child ();
	  printf ("child %d site site_child 10000 7000\n", (int) getpid ());
	  exit (0);
	}
      int status;
      waitpid (child, &status, 0);
      if (status != 0)
	return 3;
    }
  puts ("done");
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL || strcmp (line, "exit\n") != 0)
    return 2;
  for (int t = 0; t < THREADS; t++)
    for (int i = 0; i < KEEP; i++)
      free (kept[t][i]);
  puts ("bye");
  return 0;
}

/* The parent holds 100 blocks of 10000 bytes made at site_parent and
   forks; the child frees them, then holds 50 made at site_child.  The
   child's profile forgets the parent's samples, so the in-use bytes it
   counts, and so its peak, are those 50 blocks.  */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *held[100];

static __attribute__ ((noinline)) void
site_parent (void)
{
  for (int i = 0; i < 100; i++)
    held[i] = malloc (10000);
}

static __attribute__ ((noinline)) void
site_child (void)
{
  for (int i = 0; i < 50; i++)
    held[i] = malloc (10000);
}

int
main (void)
{
  site_parent ();
  printf ("site site_parent %p\nsite site_child %p\n",
          (void *) site_parent, (void *) site_child);
  fflush (stdout);
  pid_t pid = fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      for (int i = 0; i < 100; i++)
        free (held[i]);
      site_child ();
      printf ("child %d\n", (int) getpid ());
      exit (0);
    }
  int status;
  if (waitpid (pid, &status, 0) != pid || status != 0)
    return 1;
  printf ("parent %d\n", (int) getpid ());
  return 0;
}

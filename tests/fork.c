/* The parent allocates at site_parent, forks (with _Fork if the first
   argument is "_Fork", which runs no fork handler), and the child
   allocates at site_child; each process must write only its own
   samples.  */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static __attribute__ ((noinline)) void
site_parent (void)
{
  for (int i = 0; i < 10; i++)
    free (malloc (2001));
}

static __attribute__ ((noinline)) void
site_child (void)
{
  for (int i = 0; i < 10; i++)
    free (malloc (2002));
}

int
main (int argc, char **argv)
{
  site_parent ();
  printf ("site site_parent %p\nsite site_child %p\n",
          (void *) site_parent, (void *) site_child);
  fflush (stdout);
  pid_t pid = argc > 1 && strcmp (argv[1], "_Fork") == 0 ? _Fork () : fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
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

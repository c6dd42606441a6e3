/* The parent allocates at site_parent and forks, the child allocates at
   site_child; each process must write only its own samples.  The first
   argument, if any, is "_Fork", to fork with _Fork, which runs no fork
   handler, or "inherit": the parent then holds 100 blocks of 10000 bytes,
   which the child frees before it holds 50 of its own, so that the bytes
   in use the child counts, and so its peak, are those 50 blocks.  */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *held[100];
static int inherit;

static __attribute__ ((noinline)) void
site_parent (void)
{
  if (inherit)
    for (int i = 0; i < 100; i++)
      held[i] = malloc (10000);
  else
    for (int i = 0; i < 10; i++)
      free (malloc (2001));
}

static __attribute__ ((noinline)) void
site_child (void)
{
  if (inherit)
    for (int i = 0; i < 50; i++)
      held[i] = malloc (10000);
  else
    for (int i = 0; i < 10; i++)
      free (malloc (2002));
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "fork";
  inherit = strcmp (mode, "inherit") == 0;
  site_parent ();
  printf ("site site_parent %p\nsite site_child %p\n",
          (void *) site_parent, (void *) site_child);
  fflush (stdout);
  pid_t pid = strcmp (mode, "_Fork") == 0 ? _Fork () : fork ();
  if (pid < 0)
    return 1;
  if (pid == 0)
    {
      if (inherit)
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

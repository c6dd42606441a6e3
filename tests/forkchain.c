/* A line of forks, each child freeing the blocks it inherited before it
   forks the next: the entries of its parent's samples, which a child
   keeps for the blocks it inherited, must not pile up down the line.
   Prints the virtual size (VmSize, KiB) of the second generation and
   of the last.

   forkchain GENERATIONS  */

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCKS 4000

static void *blocks[BLOCKS];

static long int
vm_size (void)
{
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  long int kib = -1;
  while (f != NULL && fgets (line, sizeof line, f) != NULL)
    if (sscanf (line, "VmSize: %ld", &kib) == 1)
      break;
  if (f != NULL)
    fclose (f);
  return kib;
}

int
main (int argc, char **argv)
{
  if (argc != 2)
    {
      fputs ("usage: forkchain GENERATIONS\n", stderr);
      return 2;
    }
  int generations = atoi (argv[1]);
  long int second = 0;
  for (int g = 0; g < generations; g++)
    {
      /* Each size is a key of its own: an entry each.  */
      for (int i = 0; i < BLOCKS; i++)
        {
          free (blocks[i]);
          blocks[i] = malloc (16 + i);
        }
      if (g == 1)
        second = vm_size ();
      if (g == generations - 1)
        {
          printf ("second %ld last %ld\n", second, vm_size ());
          return 0;
        }
      fflush (stdout);
      pid_t pid = fork ();
      if (pid < 0)
        return 1;
      if (pid != 0)
        {
          int status;
          waitpid (pid, &status, 0);
          return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
        }
    }
  return 0;
}

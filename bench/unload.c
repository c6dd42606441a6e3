/* unload DEPTH MODE N: N malloc and free pairs DEPTH frames below
   main; with MODE "unload", after loading and unloading libm, so that
   the profiler is past its first epoch and checks each sample's frames
   against the objects loaded with the program.  */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

__attribute__ ((noinline)) static void
descend (int depth, int n)
{
  if (depth > 0)
    {
      descend (depth - 1, n);
      /* Not a tail call: each level keeps its frame.  */
      __asm__ volatile ("");
      return;
    }
  for (int i = 0; i < n; i++)
    {
      void *volatile p = malloc (64);
      free (p);
    }
}

int
main (int argc, char **argv)
{
  if (argc != 4)
    return 2;
  if (strcmp (argv[2], "unload") == 0)
    {
      void *h = dlopen ("libm.so.6", RTLD_NOW);
      if (h == NULL || dlclose (h) != 0)
	return 1;
    }
  descend (atoi (argv[1]), atoi (argv[3]));
  return 0;
}

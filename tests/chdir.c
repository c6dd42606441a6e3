/* Changes its working directory to $CHDIR_TO in a constructor, before
   main, then allocates: the profile must still go where the working
   directory was at startup.  */

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void __attribute__ ((constructor))
move (void)
{
  const char *to = getenv ("CHDIR_TO");
  if (to != NULL && chdir (to) != 0)
    {
      perror ("chdir");
      exit (1);
    }
}

int
main (void)
{
  for (int i = 0; i < 1000; i++)
    free (malloc (1000));
  return 0;
}

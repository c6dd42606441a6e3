/* vanish DIR: allocates, then removes DIR, the profile directory, so
   that writing the profiles at exit fails.  The program must not
   notice.  */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  if (argc != 2)
    return 2;
  for (int i = 0; i < 100; i++)
    free (malloc (5000));
  if (rmdir (argv[1]) != 0)
    {
      perror ("rmdir");
      return 1;
    }
  puts ("done");
  return 0;
}

/* A library that allocates, loaded and unloaded in a loop by dlopen.c.  */
#include <stdlib.h>

void
dl_alloc (int n)
{
  for (int i = 0; i < n; i++)
    free (malloc (7001));
}

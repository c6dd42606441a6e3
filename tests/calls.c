/* Calls each allocation function a known number of times, which tools
   that attach to them by symbol must count: malloc 2000, calloc 1000,
   realloc 500, memalign and aligned_alloc 100 each, posix_memalign 100,
   valloc 50, pvalloc 50.  */
#include <malloc.h>
#include <stdlib.h>

int
main (void)
{
  for (int i = 0; i < 2000; i++)
    free (malloc (100 + i));
  for (int i = 0; i < 1000; i++)
    free (calloc (10, 10 + i));
  for (int i = 0; i < 500; i++)
    free (realloc (NULL, 50 + i));
  for (int i = 0; i < 100; i++)
    {
      void *p;
      free (memalign (64, 100 + i));
      free (aligned_alloc (64, 128));
      if (posix_memalign (&p, 64, 100 + i) == 0)
	free (p);
    }
  for (int i = 0; i < 50; i++)
    {
      free (valloc (100 + i));
      free (pvalloc (100 + i));
    }
  return 0;
}

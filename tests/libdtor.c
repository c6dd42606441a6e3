/* A library whose destructor allocates, at dtor_alloc: dlclose runs it
   before it unmaps the library.  */
#include <stdlib.h>

void *volatile dtor_block;

__attribute__ ((noinline)) void
dtor_alloc (void)
{
  for (int i = 0; i < 10; i++)
    {
      dtor_block = malloc (7002);
      free (dtor_block);
    }
}

static void __attribute__ ((destructor))
fini (void)
{
  dtor_alloc ();
}

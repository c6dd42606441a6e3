/* Allocates 1,111-byte blocks; tests/reuse.c unloads it and loads
   libreuse_b.so, of the same layout, where it was.  */
#include <stdlib.h>

#ifndef REUSE_SIZE
# define REUSE_SIZE 1111
#endif

void
reuse_a (void **blocks, int n)
{
  for (int i = 0; i < n; i++)
    blocks[i] = malloc (REUSE_SIZE);
}

/* Called by this library's destructor, which dlclose runs with the
   loader's lock held (tests/reuse.c).  */
static void (*unloading) (void);

void
reuse_a_on_unload (void (*fn) (void))
{
  unloading = fn;
}

static void __attribute__ ((destructor))
fini (void)
{
  if (unloading != NULL)
    unloading ();
}

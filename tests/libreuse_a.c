/* Allocates 1,111-byte blocks; tests/reuse.c unloads it and loads
   libreuse_b.so, of the same layout, where it was.  */
#include <stdlib.h>

void
reuse_a (void **blocks, int n)
{
  for (int i = 0; i < n; i++)
    blocks[i] = malloc (1111);
}

/* Allocates 2,222-byte blocks, from where libreuse_a.so was (tests/reuse.c).  */
#include <stdlib.h>

void
reuse_b (void **blocks, int n)
{
  for (int i = 0; i < n; i++)
    blocks[i] = malloc (2222);
}

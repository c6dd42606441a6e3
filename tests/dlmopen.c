/* Opens libm in new namespaces until dlmopen fails, at most 20 times,
   and prints how many it opened.  Each namespace takes a copy of libc,
   whose TLS is in the static TLS block.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

int
main (void)
{
  int n = 0;
  while (n < 20 && dlmopen (LM_ID_NEWLM, "libm.so.6", RTLD_NOW) != NULL)
    n++;
  printf ("%d\n", n);
  return 0;
}

/* Allocates at site_before, calls __libc_freeres, as valgrind and
   mtrace do at exit, which unloads the libgcc_s libc loaded for its own
   unwinding, then allocates at site_after.  */
#include <stdio.h>
#include <stdlib.h>

extern void __libc_freeres (void);

static __attribute__ ((noinline)) void
site_before (void)
{
  for (int i = 0; i < 100; i++)
    free (malloc (1000));
}

static __attribute__ ((noinline)) void
site_after (void)
{
  for (int i = 0; i < 100; i++)
    free (malloc (1000));
}

int
main (void)
{
  site_before ();
  __libc_freeres ();
  site_after ();
  printf ("site site_before %p\nsite site_after %p\nsite main %p\n",
          (void *) site_before, (void *) site_after, (void *) main);
  return 0;
}

/* Three call sites allocate known totals: many small requests, fewer
   medium ones, and a few at least as large as the sampling mean.  */
#include <stdio.h>
#include <stdlib.h>

static __attribute__ ((noinline)) void
site_small (void)
{
  for (int i = 0; i < 1000000; i++)
    free (malloc (64));
}

static __attribute__ ((noinline)) void
site_medium (void)
{
  for (int i = 0; i < 2000; i++)
    free (malloc (10000));
}

static __attribute__ ((noinline)) void
site_large (void)
{
  for (int i = 0; i < 100; i++)
    free (malloc (1 << 20));
}

int
main (void)
{
  site_small ();
  site_medium ();
  site_large ();
  printf ("site site_small %p 1000000 64\n", (void *) site_small);
  printf ("site site_medium %p 2000 10000\n", (void *) site_medium);
  printf ("site site_large %p 100 1048576\n", (void *) site_large);
  return 0;
}

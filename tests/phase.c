/* A phase-locked pattern: each turn of the loop, site_once allocates
   one block and site_seven seven blocks of the same size.  When the
   turn's bytes equal the sampling mean a fixed countdown would put
   every sample on the same site.  */
#include <stdio.h>
#include <stdlib.h>

#define SIZE 4095
#define TURNS 100000

static __attribute__ ((noinline)) void
site_once (void)
{
  free (malloc (SIZE));
}

static __attribute__ ((noinline)) void
site_seven (void)
{
  for (int i = 0; i < 7; i++)
    free (malloc (SIZE));
}

int
main (void)
{
  for (int i = 0; i < TURNS; i++)
    {
      site_once ();
      site_seven ();
    }
  printf ("site site_once %p %d %d\n", (void *) site_once, TURNS, SIZE);
  printf ("site site_seven %p %d %d\n", (void *) site_seven, 7 * TURNS, SIZE);
  return 0;
}

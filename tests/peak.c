/* Reaches a known peak and comes down: site_peak makes N blocks of SIZE
   bytes and holds them all, then frees them; site_after then makes N / 4
   and keeps them to the end.  Prints "site NAME ADDRESS REQUESTS LIVE
   SIZE" for both, LIVE being what each held at the peak.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 2000
#define SIZE 16384

static void *blocks[N];

static __attribute__ ((noinline)) void *
site_peak (void)
{
  return memset (malloc (SIZE), 1, SIZE);
}

static __attribute__ ((noinline)) void *
site_after (void)
{
  return memset (malloc (SIZE), 2, SIZE);
}

int
main (void)
{
  for (int i = 0; i < N; i++)
    blocks[i] = site_peak ();
  for (int i = 0; i < N; i++)
    free (blocks[i]);
  for (int i = 0; i < N / 4; i++)
    blocks[i] = site_after ();
  printf ("site site_peak %p %d %d %d\n", site_peak, N, N, SIZE);
  printf ("site site_after %p %d 0 %d\n", site_after, N / 4, SIZE);
  return 0;
}

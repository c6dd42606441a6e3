/* Calls every allocation entry point once from a function of its own
   and prints where each function is, so that the runner can check that
   each sample is attributed to the function that made the call.  */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 3
static void *keep[64];
static int nkeep;

#define SITE(name, expr)                                                \
  static __attribute__ ((noinline)) void name (void)                    \
  {                                                                     \
    for (int i = 0; i < N; i++)                                         \
      {                                                                 \
        void *p = (expr);                                               \
        __asm__ volatile ("" : : "r" (p) : "memory");                   \
        keep[nkeep++] = p;                                              \
      }                                                                 \
  }

SITE (site_malloc, malloc (1001))
SITE (site_calloc, calloc (1, 1002))
SITE (site_realloc_null, realloc (NULL, 1003))
SITE (site_reallocarray, reallocarray (NULL, 1, 1005))
SITE (site_memalign, memalign (64, 1006))
SITE (site_aligned_alloc, aligned_alloc (64, 1007 + 64 - 1007 % 64))
SITE (site_valloc, valloc (1008))
SITE (site_pvalloc, pvalloc (5000))

static __attribute__ ((noinline)) void
site_posix_memalign (void)
{
  for (int i = 0; i < N; i++)
    {
      void *p;
      if (posix_memalign (&p, 64, 1010) != 0)
        abort ();
      keep[nkeep++] = p;
    }
}

/* Grows a block in place and by moving: every call counts.  */
static __attribute__ ((noinline)) void
site_realloc_grow (void)
{
  for (int i = 0; i < N; i++)
    {
      void *p = malloc (16);
      free (p);
    }
  void *p = NULL;
  for (int i = 0; i < N; i++)
    {
      p = realloc (p, 1004);
      __asm__ volatile ("" : : "r" (p) : "memory");
    }
  keep[nkeep++] = p;
}

#define SHOW(f) printf ("site %s %p\n", #f, (void *) f)

int
main (void)
{
  site_malloc ();
  site_calloc ();
  site_realloc_null ();
  site_realloc_grow ();
  site_reallocarray ();
  site_memalign ();
  site_aligned_alloc ();
  site_valloc ();
  site_pvalloc ();
  site_posix_memalign ();
  SHOW (main);
  SHOW (site_malloc);
  SHOW (site_calloc);
  SHOW (site_realloc_null);
  SHOW (site_realloc_grow);
  SHOW (site_reallocarray);
  SHOW (site_memalign);
  SHOW (site_aligned_alloc);
  SHOW (site_valloc);
  SHOW (site_pvalloc);
  SHOW (site_posix_memalign);
  for (int i = 0; i < nkeep; i++)
    free (keep[i]);
  return 0;
}

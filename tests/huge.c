/* Requests too large to be met, of more than PTRDIFF_MAX bytes, made
   through every allocation function between 100,000 requests of 1,000
   bytes: none may stop or skew the sampling of the others.  */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const size_t huge[] =
  {
    SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX - SIZE_MAX / 4,
    (size_t) PTRDIFF_MAX + 4096, (size_t) PTRDIFF_MAX + 1,
  };
#define NHUGE (sizeof huge / sizeof huge[0])

static int failures;

static void
expect_null (void *p, const char *what, size_t n)
{
  if (p != NULL)
    {
      printf ("%s (%zu) succeeded\n", what, n);
      failures++;
      free (p);
    }
}

static void
too_large (size_t n)
{
  void *p;
  expect_null (malloc (n), "malloc", n);
  expect_null (calloc (1, n), "calloc", n);
  expect_null (calloc (n, 3), "calloc by 3", n);
  expect_null (realloc (NULL, n), "realloc", n);
  expect_null (memalign (64, n), "memalign", n);
  expect_null (aligned_alloc (64, n), "aligned_alloc", n);
  expect_null (valloc (n), "valloc", n);
  expect_null (pvalloc (n), "pvalloc", n);
  if (posix_memalign (&p, 64, n) == 0)
    expect_null (p, "posix_memalign", n);
  void *q = malloc (16);
  void *r = realloc (q, n);
  expect_null (r, "realloc of a block", n);
  if (r == NULL)
    free (q);
}

static __attribute__ ((noinline)) void
site_small (void)
{
  for (int i = 0; i < 100000; i++)
    {
      free (malloc (1000));
      if (i % 100 == 0)
	too_large (huge[i / 100 % NHUGE]);
    }
}

int
main (void)
{
  site_small ();
  printf ("site site_small %p 100000 1000\n", (void *) site_small);
  return failures != 0;
}

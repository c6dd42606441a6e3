/* A known call tree for the stack tests, built with and without frame
   pointers.  Each size is allocated along one path, through wrappers
   one, two and three levels deep; the program prints each path,
   innermost first, as "chain SIZE FUNCTION...".  */

#include <stdio.h>
#include <stdlib.h>

#define N 2000
#define NOINLINE __attribute__ ((noinline))

static void *keep[3 * N];
static int kept;

NOINLINE void *
xmalloc (size_t n)
{
  void *p = malloc (n);
  if (p == NULL)
    abort ();
  return p;
}

NOINLINE void *
wrap2 (size_t n)
{
  return xmalloc (n);
}

NOINLINE void *
wrap3 (size_t n)
{
  return wrap2 (n);
}

NOINLINE void
direct (void)
{
  for (int i = 0; i < N; i++)
    keep[kept++] = xmalloc (1000);
}

NOINLINE void
two_deep (void)
{
  for (int i = 0; i < N; i++)
    keep[kept++] = wrap2 (2000);
}

NOINLINE void
three_deep (void)
{
  for (int i = 0; i < N; i++)
    keep[kept++] = wrap3 (3000);
}

NOINLINE void
work (void)
{
  direct ();
  two_deep ();
  three_deep ();
}

int
main (void)
{
  work ();
  printf ("chain 1000 xmalloc direct work main\n");
  printf ("chain 2000 xmalloc wrap2 two_deep work main\n");
  printf ("chain 3000 xmalloc wrap2 wrap3 three_deep work main\n");
  for (int i = 0; i < kept; i++)
    free (keep[i]);
  return 0;
}

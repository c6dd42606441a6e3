/* A service for mprof serve's tests: holds HOLD blocks of SIZE bytes from
   hold_site, then, for each line "grow K" on standard input, allocates K
   more blocks from grow_site and answers "grew K"; exits at end of
   input, printing "bye".  */
#include <stdio.h>
#include <stdlib.h>

#define HOLD 4000
#define SIZE 8192

/* Each site tests malloc's result, so that its call is not a tail call
   and the site is the caller the profile records.  */

static void *volatile last;

__attribute__ ((noinline)) void *
hold_site (void)
{
  void *p = malloc (SIZE);
  if (p == NULL)
    abort ();
  return p;
}

__attribute__ ((noinline)) void *
grow_site (void)
{
  void *p = malloc (SIZE);
  if (p == NULL)
    abort ();
  return p;
}

int
main (void)
{
  for (int i = 0; i < HOLD; i++)
    last = hold_site ();
  printf ("hold %d %d\n", HOLD, SIZE);
  fflush (stdout);
  char line[64];
  int k;
  while (fgets (line, sizeof line, stdin) != NULL)
    if (sscanf (line, "grow %d", &k) == 1)
      {
        for (int i = 0; i < k; i++)
          last = grow_site ();
        printf ("grew %d\n", k);
        fflush (stdout);
      }
  puts ("bye");
  return 0;
}

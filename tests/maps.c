/* Copies its own /proc/self/maps to standard output, after a few
   requests.  */
#include <stdio.h>
#include <stdlib.h>

int
main (void)
{
  for (int i = 0; i < 100; i++)
    free (malloc (1000));
  FILE *f = fopen ("/proc/self/maps", "r");
  if (f == NULL)
    return 1;
  int c;
  while ((c = getc (f)) != EOF)
    putchar (c);
  return fclose (f) != 0;
}

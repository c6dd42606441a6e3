/* frag BLOCKS: BLOCKS blocks of 3000 bytes, every other one freed, then
   "ready" and a wait for a line of standard input, then exit: a heap of
   BLOCKS / 2 holes for bench/memory.py to take dumps of.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
  size_t n = argc > 1 ? strtoul (argv[1], NULL, 10) : 100000;
  char **blocks = malloc (n * sizeof *blocks);
  for (size_t i = 0; i < n; i++)
    memset (blocks[i] = malloc (3000), 1, 3000);
  for (size_t i = 0; i < n; i += 2)
    free (blocks[i]);
  puts ("ready");
  fflush (stdout);
  char line[16];
  return fgets (line, sizeof line, stdin) == NULL;
}

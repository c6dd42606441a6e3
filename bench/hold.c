/* Holds BYTES bytes (default 1 GiB) in blocks of 16 to 256 bytes, all
   live at once, then prints the resident set size in KiB: what the
   profiler's tracking of live blocks costs in memory is the difference
   between two runs.

   hold [BYTES]  */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main (int argc, char **argv)
{
  uint64_t target = argc > 1 ? strtoull (argv[1], NULL, 0) : 1ULL << 30;
  uint64_t s = 88172645463325252ULL, held = 0;
  size_t n = 0, cap = 1 << 20;
  void **blocks = malloc (cap * sizeof *blocks);
  while (held < target)
    {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t size = 16 + s % 241;
      if (n == cap)
        blocks = realloc (blocks, (cap *= 2) * sizeof *blocks);
      blocks[n] = malloc (size);
      memset (blocks[n], 1, size);
      n++;
      held += size;
    }
  FILE *f = fopen ("/proc/self/status", "r");
  char line[256];
  while (fgets (line, sizeof line, f) != NULL)
    if (strncmp (line, "VmRSS:", 6) == 0)
      printf ("%lld\n", strtoll (line + 6, NULL, 10));
  fclose (f);
  return 0;
}

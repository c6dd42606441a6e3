/* keys N [tight]: requests N distinct sizes, each a new key of the
   profile at a mean of 1 byte, then 100 more of the first size.  With "tight", the address space is
   first limited to what the process uses, so that the profiler's table
   cannot grow; the requests themselves are served from memory malloc
   already holds.  */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 1000;
  if (argc > 2 && strcmp (argv[2], "tight") == 0)
    {
      /* Keep freed memory in the heap, then fill it once.  */
      mallopt (M_TRIM_THRESHOLD, 1 << 30);
      mallopt (M_MMAP_THRESHOLD, 1 << 30);
      free (malloc (8 << 20));
      unsigned long pages;
      FILE *f = fopen ("/proc/self/statm", "r");
      if (f == NULL || fscanf (f, "%lu", &pages) != 1)
        return 1;
      fclose (f);
      struct rlimit rl = { pages * 4096 + 65536, pages * 4096 + 65536 };
      if (setrlimit (RLIMIT_AS, &rl) != 0)
        return 1;
    }
  /* Then 100 more of the first size, a key the table holds.  */
  for (int i = 0; i < n + 100; i++)
    {
      void *p = malloc (16 + (i < n ? i : 0));
      if (p == NULL)
        {
          printf ("malloc failed at %d\n", i);
          return 1;
        }
      free (p);
    }
  puts ("ok");
  return 0;
}

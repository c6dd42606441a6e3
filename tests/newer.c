/* Built against the headers of the glibc built here, not the system's:
   strlcpy is of GLIBC_2.38, and so is __isoc23_strtol, which strtol
   becomes in C23 mode.  Debian 12's glibc 2.36 has neither, so its
   loader refuses to run this.  Keeps N blocks of 4096 bytes from
   site_newer (N the argument), and reports the site as tests/live
   does.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __attribute__ ((noinline)) char *
site_newer (size_t n)
{
  char *p = malloc (n);
  /* Not a tail call: the site is the first frame of its samples.  */
  asm volatile ("" : : "r" (p) : "memory");
  return p;
}

int
main (int argc, char **argv)
{
  long int n = strtol (argc > 1 ? argv[1] : "100", NULL, 0);
  char **keep = calloc (n, sizeof *keep);
  for (long int i = 0; i < n; i++)
    {
      keep[i] = site_newer (4096);
      strlcpy (keep[i], "built against glibc 2.38 or later", 4096);
    }
  printf ("site site_newer %p %ld %ld 4096\n", (void *) site_newer, n, n);
  puts (keep[n - 1]);
  return 0;
}

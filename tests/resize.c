/* Sampled blocks that realloc grows and shrinks, and aligned ones.
   Prints, per site, "site NAME ADDRESS REQUESTS LIVE SIZE" (SIZE the
   size of the live block, if any), then "inplace N M": N of M
   reallocs of a block at the top of the heap that kept their address,
   "faults N M": the page faults of growing a block from 1 MiB by
   64 KiB steps, writing only the new bytes, and the pages those steps
   added, and "aligned ALIGN VM": the address space a block of ALIGN
   bytes aligned to ALIGN took.  Checks every block's alignment, usable
   size and contents itself and exits with status 1 if one is wrong.

   resize [free]: with "free", frees every block before it reports, so
   that every site has LIVE 0.  */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CHAINS 8
#define ALIGNS 18

static int failed;

static void
fail (const char *what, void *p, size_t size)
{
  fprintf (stderr, "%s: block %p of %zu bytes, usable %zu\n", what, p, size,
           p ? malloc_usable_size (p) : 0);
  failed = 1;
}

/* Byte I of a block of chain C holds (C + I / 512).  */
static void
fill (unsigned char *p, size_t from, size_t to, int c)
{
  for (size_t i = from; i < to; i++)
    p[i] = (unsigned char) (c + i / 512);
}

static void
verify (unsigned char *p, size_t size, size_t kept, size_t align, int c,
        const char *what)
{
  if (p == NULL || (uintptr_t) p % align != 0
      || malloc_usable_size (p) < size)
    {
      fail (what, p, size);
      return;
    }
  for (size_t i = 0; i < kept; i++)
    if (p[i] != (unsigned char) (c + i / 512))
      {
        fprintf (stderr, "%s: byte %zu of %zu lost\n", what, i, kept);
        failed = 1;
        return;
      }
}

static void
report (const char *name, void *fn, int requests, int live, size_t size)
{
  printf ("site %s %p %d %d %zu\n", name, fn, requests, live, size);
}

/* Each site is a function of its own, which the asm keeps from ending
   in a tail call: the profile attributes its requests to it.  */
#define SITE(name, params, expr)                                        \
  static __attribute__ ((noinline)) void *name params                   \
  {                                                                     \
    void *p = (expr);                                                   \
    __asm__ volatile ("" : : "r" (p) : "memory");                       \
    return p;                                                           \
  }

SITE (site_chain_start, (size_t size), malloc (size))
SITE (site_chain_step, (void *old, size_t size), realloc (old, size))
SITE (site_inplace, (void *old, size_t size), realloc (old, size))
SITE (site_remap, (void *old, size_t size), realloc (old, size))
SITE (site_aligned, (size_t align), aligned_alloc (align, align))

static long
faults (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_minflt + ru.ru_majflt;
}

/* The address space the process has mapped, in bytes, from its maps:
   under qemu-user, /proc/self/statm would be the emulator's, which
   maps memory of its own as it translates code.  */
static size_t
vm_size (void)
{
  FILE *f = fopen ("/proc/self/maps", "r");
  if (f == NULL)
    abort ();
  size_t total = 0;
  unsigned long start, end;
  char line[4096];
  while (fgets (line, sizeof line, f) != NULL)
    if (sscanf (line, "%lx-%lx", &start, &end) == 2)
      total += end - start;
  fclose (f);
  return total;
}

int
main (int argc, char **argv)
{
  int free_all = argc > 1 && strcmp (argv[1], "free") == 0;

  /* Chains from 1000 bytes up across the mmap threshold (128 KiB) to
     300 KiB in 4 KiB steps, then down to 1000 bytes again.  */
  void *chains[CHAINS];
  int steps = 0;
  size_t last = 0;
  for (int c = 0; c < CHAINS; c++)
    {
      size_t size = 1000;
      unsigned char *p = site_chain_start (size);
      verify (p, size, 0, 16, c, "chain start");
      fill (p, 0, size, c);
      int up = 1;
      steps = 0;
      for (;;)
        {
          if (up && size + 4096 > 300 * 1024)
            up = 0;
          if (!up && size < 1000 + 4096)
            break;
          size_t next = up ? size + 4096 : size - 4096;
          p = site_chain_step (p, next);
          steps++;
          verify (p, next, next < size ? next : size, 16, c, "chain step");
          if (next > size)
            fill (p, size, next, c);
          size = next;
        }
      chains[c] = p;
      last = size;
    }
  if (free_all)
    for (int c = 0; c < CHAINS; c++)
      free (chains[c]);
  report ("site_chain_start", site_chain_start, CHAINS, 0, 1000);
  report ("site_chain_step", site_chain_step, CHAINS * steps,
          free_all ? 0 : CHAINS, last);

  /* A block at the top of the heap grows in place.  */
  size_t size = 2000;
  unsigned char *p = malloc (size);
  fill (p, 0, size, 1);
  int kept = 0, n = 64;
  for (int i = 0; i < n; i++)
    {
      unsigned char *q = site_inplace (p, size + 64);
      verify (q, size + 64, size, 16, 1, "grow in place");
      fill (q, size, size + 64, 1);
      kept += q == p;
      p = q;
      size += 64;
    }
  free (p);
  report ("site_inplace", site_inplace, n, 0, size);
  printf ("inplace %d %d\n", kept, n);

  /* A block past the mmap threshold grows by mremap, which moves pages
     without touching them.  */
  size = 1 << 20;
  p = malloc (size);
  fill (p, 0, size, 2);
  long before = faults (), added = 0;
  for (int i = 0; i < 64; i++)
    {
      p = site_remap (p, size + 65536);
      if (p == NULL)
        abort ();
      fill (p, size, size + 65536, 2);
      size += 65536;
      added += 65536 / 4096;
    }
  long took = faults () - before;
  verify (p, size, size, 16, 2, "mremap");
  if (free_all)
    free (p);
  report ("site_remap", site_remap, 64, !free_all, size);
  printf ("faults %ld %ld\n", took, added);

  /* Aligned blocks from 16 bytes to 2 MiB.  */
  void *aligned[ALIGNS];
  for (int i = 0; i < ALIGNS; i++)
    {
      size_t align = (size_t) 16 << i;
      size_t vm = vm_size ();
      aligned[i] = site_aligned (align);
      vm = vm_size () - vm;
      verify (aligned[i], align, 0, align, 3, "aligned");
      if (aligned[i] != NULL)
        {
          fill (aligned[i], 0, align, 3);
          verify (aligned[i], align, align, align, 3, "aligned contents");
        }
      printf ("aligned %zu %zu\n", align, vm);
    }
  for (int i = 0; i < ALIGNS; i++)
    if (free_all || i % 2 == 0)
      free (aligned[i]);
  report ("site_aligned", site_aligned, ALIGNS, free_all ? 0 : ALIGNS / 2,
          0);
  return failed;
}

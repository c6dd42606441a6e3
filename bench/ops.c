/* ops OP N [ALLOC FREE]: N times one operation of one entry point, each
   in a function of its own, op_OP, whose instructions bench/probes.py
   counts (callgrind --toggle-collect=op_*).  Given the offsets in
   libc.so.6 of the otel_memory probes' semaphores, raises them first, as
   a consumer's attach does, so that libc samples for the probes.  */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "semaphores.h"

static void *volatile block;
static long turn;

#define OP(name, body) \
  static __attribute__ ((noinline)) void op_##name (void) { body; }
OP (malloc32, free (malloc (32)))
OP (calloc32, free (calloc (1, 32)))
OP (malloc2000, free (malloc (2000)))
OP (malloc20000, free (malloc (20000)))
OP (malloc100000, free (malloc (100000)))
OP (realloc, block = realloc (block, ++turn & 1 ? 48 : 64))
OP (malloc1M, free (malloc (1 << 20)))
OP (memalign, free (memalign (64, 32)))
OP (aligned_alloc, free (aligned_alloc (64, 32)))
OP (posix_memalign, void *p; posix_memalign (&p, 64, 32); free (p))
OP (valloc, free (valloc (32)))

static const struct
{
  const char *name;
  void (*fn) (void);
} ops[] = {
  { "malloc32", op_malloc32 }, { "calloc32", op_calloc32 },
  { "malloc2000", op_malloc2000 }, { "malloc20000", op_malloc20000 },
  { "malloc100000", op_malloc100000 }, { "malloc1M", op_malloc1M },
  { "realloc", op_realloc }, { "memalign", op_memalign },
  { "aligned_alloc", op_aligned_alloc },
  { "posix_memalign", op_posix_memalign }, { "valloc", op_valloc },
};

int
main (int argc, char **argv)
{
  void (*fn) (void) = NULL;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp (argv[1], ops[i].name) == 0)
      fn = ops[i].fn;
  if (fn == NULL)
    return 2;
  long n = atol (argv[2]);
  if (argc > 4)
    raise_semaphores (argv + 3, 2);
  block = malloc (48);
  for (long i = 0; i < n; i++)
    fn ();
  free (block);
  return 0;
}

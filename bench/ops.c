/* ops OP N [ALLOC FREE | attach | thread]: N times one operation of one entry
   point, each in a function of its own, op_OP, whose instructions
   bench/probes.py and bench/attach.py count (callgrind
   --toggle-collect=op_*).  Given the offsets in libc.so.6 of the
   otel_memory probes' semaphores, raises them first, as a consumer's
   attach does, so that libc samples for the probes.  Given "attach", asks
   its own libc to load the profiler, as mprof attach does from outside,
   and allocates until it profiles.  Given "thread",
   creates a thread and joins it first.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "semaphores.h"

/* Write an attach request into this process's libc, at the offsets of
   struct malloc_prof_attach (malloc/malloc-prof.h), and allocate until
   it is answered.  */
static void
attach_self (void)
{
  char *a = dlsym (RTLD_DEFAULT, "__malloc_prof_attach");
  if (a == NULL)
    {
      fprintf (stderr, "no __malloc_prof_attach in libc\n");
      exit (2);
    }
  *(uint64_t *) (a + 24) = 524288;	/* mean */
  *(int32_t *) (a + 40) = getpid ();
  *(int32_t *) (a + 48) = 64;		/* depth */
  *(uint32_t *) (a + 52) = 1;		/* serial */
  __atomic_store_n ((uint32_t *) (a + 56), 1, __ATOMIC_RELEASE);
  size_t *fast = *(size_t **) (a + 16);
  if (fast != NULL)
    *fast = 0;
  /* Requests the tcache meets, as the operations' are, so that the
     heap is left as it would be.  */
  while (__atomic_load_n ((uint32_t *) (a + 8), __ATOMIC_ACQUIRE) != 1)
    free (malloc (512));
  if (*(uint32_t *) (a + 12) != 1)
    {
      fprintf (stderr, "attach refused: %s\n", a + 1088);
      exit (2);
    }
}

static void *
nothing (void *arg)
{
  return arg;
}

static void *volatile block;
static long turn;

#define OP(name, body) \
  static __attribute__ ((noinline)) void op_##name (void) { body; }
OP (malloc32, free (malloc (32)))
OP (calloc32, free (calloc (1, 32)))
OP (malloc2000, free (malloc (2000)))
OP (calloc2000, free (calloc (1, 2000)))
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
  { "malloc2000", op_malloc2000 }, { "calloc2000", op_calloc2000 },
  { "malloc20000", op_malloc20000 }, { "malloc100000", op_malloc100000 },
  { "malloc1M", op_malloc1M },
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
  else if (argc == 4 && strcmp (argv[3], "attach") == 0)
    attach_self ();
  else if (argc == 4 && strcmp (argv[3], "thread") == 0)
    {
      /* A process that had a thread once takes glibc's paths for many
	 threads from then on.  */
      pthread_t t;
      if (pthread_create (&t, NULL, nothing, NULL) != 0
	  || pthread_join (t, NULL) != 0)
	return 2;
    }
  /* Where the top of the heap lies, and the thresholds, depend on what
     ran before: loading the profiler, or an attach, moves the top and
     frees mmapped blocks, which raise the thresholds.  They are fixed
     here, so that every run counts the same path: 1 MiB is mmapped,
     100,000 bytes are not, and a free that merges into the top never
     tries to trim it, wherever the top lies.  */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
  mallopt (M_TRIM_THRESHOLD, 1 << 30);
  mallopt (M_TOP_PAD, 128 * 1024);
  block = malloc (48);
  for (long i = 0; i < n; i++)
    fn ();
  free (block);
  return 0;
}

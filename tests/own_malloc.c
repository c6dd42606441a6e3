/* A program with a malloc of its own that works only once the program's
   constructor has run, as some replacements of malloc do.  Asked to
   profile it, glibc must neither load its profiler, whose loading
   allocates from libc's constructor, before this one, nor profile a
   malloc that is not its own.  Prints "ok".  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char arena[1 << 20] __attribute__ ((aligned (16)));
static size_t used;
static int ready;

static __attribute__ ((constructor)) void
init (void)
{
  ready = 1;
}

void *
malloc (size_t n)
{
  if (!ready)
    {
      static const char msg[] = "malloc called before its constructor\n";
      write (STDERR_FILENO, msg, sizeof msg - 1);
      abort ();
    }
  n = (n + 15) & ~(size_t) 15;
  if (n > sizeof arena - used)
    return NULL;
  used += n;
  return arena + used - n;
}

void
free (void *p)
{
  (void) p;
}

void *
calloc (size_t count, size_t size)
{
  size_t n;
  if (__builtin_mul_overflow (count, size, &n))
    return NULL;
  void *p = malloc (n);
  return p != NULL ? memset (p, 0, n) : NULL;
}

/* Blocks are never moved back, so the old one ends before the new.  */
void *
realloc (void *old, size_t n)
{
  void *p = malloc (n);
  if (p != NULL && old != NULL)
    memcpy (p, old, n);
  return p;
}

int
main (void)
{
  printf ("ok\n");
  return 0;
}

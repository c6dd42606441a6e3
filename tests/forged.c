/* A chunk header forged as a heap overflow would forge it, then freed
   (or realloc'ed) in a child process: the child must abort with glibc's
   message before it decrements the counter the header names or frees
   the block it names, both in a canary page shared with this process.
   Prints "status N" (the child's wait status) and "canary intact" or
   "canary changed".

   forged KIND free|realloc

   odd:  an IS_MMAPPED header with an odd prev_size, inside a large
         block (what any process may be handed by an overflow);
   key, base, size: a real sampled block (the process must profile at
         a mean that samples a 4000-byte request) with its key, its
         base or its size changed;
   leaked: a real sampled block whose key is changed and whose check is
         made anew with the secret worked out from its own check, as
         anyone who could read one header could, had the check been a
         keyed multiplication that can be inverted (the series' first
         one, tcache_key's kind).  */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* The check the series first had: the secret mixed with the header's
   address, BASE, prev_size and size by multiplications.  */
static const uintptr_t odd = (uintptr_t) 0x9e3779b97f4a7c15ULL;
#define HALF (sizeof (uintptr_t) * 4)

static uintptr_t
old_sum (uintptr_t p, uintptr_t base, uintptr_t prev, uintptr_t head,
         uintptr_t secret)
{
  uintptr_t h = (secret ^ p) * odd;
  h = (h ^ base) * odd;
  h = (h ^ prev) * odd;
  h = (h ^ head) * odd;
  return h ^ (h >> HALF);
}

/* The secret of old_sum, from one header's check and fields.  */
static uintptr_t
old_secret (uintptr_t check, uintptr_t p, uintptr_t base, uintptr_t prev,
            uintptr_t head)
{
  uintptr_t inv = odd;
  for (int i = 0; i < 6; i++)
    inv *= 2 - odd * inv;
  uintptr_t h = check ^ (check >> HALF);
  h = (h * inv) ^ head;
  h = (h * inv) ^ prev;
  h = (h * inv) ^ base;
  return (h * inv) ^ p;
}

/* What the forged header points to: a counter and, for BASE, a fake
   small chunk that a free would put on the tcache, writing into it.  */
struct canary
{
  uint64_t counter;
  uint64_t pad;
  size_t chunk[4];
};

int
main (int argc, char **argv)
{
  if (argc != 3)
    {
      fputs ("usage: forged odd|key|base|size|leaked free|realloc\n", stderr);
      return 2;
    }
  const char *kind = argv[1];
  int use_realloc = strcmp (argv[2], "realloc") == 0;
  struct canary *c = mmap (NULL, 4096, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (c == MAP_FAILED)
    return 2;
  c->counter = 1000;
  c->chunk[1] = 0x21;           /* The fake chunk's size.  */
  void *fake_base = &c->chunk[2];
  struct canary before = *c;

  size_t *p;                    /* The forged chunk: prev_size, size.  */
  void *mem;
  if (strcmp (kind, "odd") == 0)
    {
      char *big = malloc (1 << 20);
      memset (big, 0, 1 << 20);
      mem = big + 8192;
      p = (size_t *) mem - 2;
      p[-2] = 0x1234567;         /* A check that no secret went into.  */
      p[-1] = (uintptr_t) fake_base;
      p[0] = (uintptr_t) &c->counter | 1;
      p[1] = 4096 | 2;           /* IS_MMAPPED.  */
    }
  else
    {
      mem = malloc (4000);
      p = (size_t *) mem - 2;
      if (!(p[1] & 2) || !(p[0] & 1))
        {
          fputs ("forged: the block is not sampled\n", stderr);
          return 2;
        }
      if (strcmp (kind, "key") == 0)
        p[0] = (uintptr_t) &c->counter | 1;
      else if (strcmp (kind, "base") == 0)
        p[-1] = (uintptr_t) fake_base;
      else if (strcmp (kind, "size") == 0)
        p[1] += 4096;
      else if (strcmp (kind, "leaked") == 0)
        {
          uintptr_t secret = old_secret (p[-2], (uintptr_t) p, p[-1], p[0],
                                         p[1]);
          p[0] = (uintptr_t) &c->counter | 1;
          p[-2] = old_sum ((uintptr_t) p, p[-1], p[0], p[1], secret);
        }
      else
        return 2;
    }
  fflush (stdout);
  pid_t pid = fork ();
  if (pid == 0)
    {
      if (use_realloc)
        mem = realloc (mem, 8000);
      else
        free (mem);
      _exit (0);
    }
  int status;
  waitpid (pid, &status, 0);
  printf ("status %d\n", status);
  printf ("canary %s\n", memcmp (c, &before, sizeof before) == 0
          ? "intact" : "changed");
  return 0;
}

/* Allocates from one function per call site and frees some of each
   site's blocks by every route free has, so that the runner can check
   the blocks each site still holds at exit.  Prints, per site,
   "site NAME ADDRESS REQUESTS LIVE SIZE".  Checks every block's
   alignment, usable size and contents itself and exits with status 1
   if one is wrong.

   live [fork]: with "fork", the process forks after site_before_fork;
   the child frees the blocks it inherited, makes its own at
   site_in_child, keeps half of them and exits.  */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 4000
#define N_BIG 64

static void *blocks[N];
static int failed;

/* Checks P; fills it unless it holds what a realloc kept.  */
static void
verify (void *p, size_t size, size_t align, const char *what, int fill)
{
  if (p == NULL || (uintptr_t) p % align != 0
      || malloc_usable_size (p) < size)
    {
      fprintf (stderr, "%s: block %p of %zu bytes, usable %zu, align %zu\n",
               what, p, size, p ? malloc_usable_size (p) : 0, align);
      failed = 1;
      return;
    }
  if (fill)
    memset (p, 0x5a, size);
}

static void
report (const char *name, void *fn, int requests, int live, size_t size)
{
  printf ("site %s %p %d %d %zu\n", name, fn, requests, live, size);
}

#define SITE(name, expr, size, align)                                   \
  static __attribute__ ((noinline)) void *name (void *old)              \
  {                                                                     \
    void *p = (expr);                                                   \
    verify (p, size, align, #name, old == NULL);                                   \
    __asm__ volatile ("" : : "r" (p) : "memory");                       \
    return p;                                                           \
  }

SITE (site_free_all, malloc (1000), 1000, 16)
SITE (site_free_half, malloc (1100), 1100, 16)
SITE (site_other_thread, malloc (1200), 1200, 16)
SITE (site_chain_malloc, malloc (1300), 1300, 16)
SITE (site_chain_grow, reallocarray (old, 2, 1300), 2600, 16)
SITE (site_chain_shrink, realloc (old, 650), 650, 16)
SITE (site_realloc_zero, malloc (1700), 1700, 16)
SITE (site_posix_memalign, ({ void *q = NULL;
                              posix_memalign (&q, 64, 1800) ? NULL : q; }),
      1800, 64)
SITE (site_aligned_alloc, aligned_alloc (4096, 4096), 4096, 4096)
SITE (site_memalign, memalign (256, 1900), 1900, 256)
SITE (site_valloc, valloc (2000), 2000, 4096)
SITE (site_pvalloc, pvalloc (2100), 2100, 4096)
SITE (site_calloc, calloc (2, 1100), 0, 16)
SITE (site_mmapped, malloc (300000), 300000, 16)
SITE (site_in_thread, malloc (2300), 2300, 16)
SITE (site_before_fork, malloc (2400), 2400, 16)
SITE (site_in_child, malloc (2500), 2500, 16)

static void *
free_all (void *arg)
{
  void **b = arg;
  for (int i = 0; i < N; i++)
    free (b[i]);
  return NULL;
}

static void *in_thread[N];

static void *
allocate_and_exit (void *arg)
{
  for (int i = 0; i < N; i++)
    in_thread[i] = site_in_thread (NULL);
  return NULL;
}

int
main (int argc, char **argv)
{
  int i;

  for (i = 0; i < N; i++)
    blocks[i] = site_free_all (NULL);
  for (i = 0; i < N; i++)
    free (blocks[i]);
  report ("site_free_all", site_free_all, N, 0, 1000);

  for (i = 0; i < N; i++)
    blocks[i] = site_free_half (NULL);
  for (i = 1; i < N; i += 2)
    free (blocks[i]);
  report ("site_free_half", site_free_half, N, N / 2, 1100);

  static void *other[N];
  for (i = 0; i < N; i++)
    other[i] = site_other_thread (NULL);
  pthread_t t;
  pthread_create (&t, NULL, free_all, other);
  pthread_join (t, NULL);
  report ("site_other_thread", site_other_thread, N, 0, 1200);

  /* The contents survive each step of the chain, sampled or not.  */
  for (i = 0; i < N; i++)
    {
      unsigned char *p = site_chain_malloc (NULL);
      for (int j = 0; j < 650; j++)
        p[j] = (unsigned char) (i + j);
      p = site_chain_grow (p);
      for (int j = 0; j < 650; j++)
        p[j] = (unsigned char) (i + j);
      p = site_chain_shrink (p);
      for (int j = 0; j < 650; j++)
        if (p[j] != (unsigned char) (i + j))
          {
            fprintf (stderr, "realloc chain %d: byte %d lost\n", i, j);
            failed = 1;
            break;
          }
      blocks[i] = p;
    }
  report ("site_chain_malloc", site_chain_malloc, N, 0, 1300);
  report ("site_chain_grow", site_chain_grow, N, 0, 2600);
  report ("site_chain_shrink", site_chain_shrink, N, N, 650);

  for (i = 0; i < N; i++)
    if (realloc (site_realloc_zero (NULL), 0) != NULL)
      failed = 1;
  report ("site_realloc_zero", site_realloc_zero, N, 0, 1700);

  for (i = 0; i < N; i++)
    site_posix_memalign (NULL);
  report ("site_posix_memalign", site_posix_memalign, N, N, 1800);
  for (i = 0; i < N / 4; i++)
    site_aligned_alloc (NULL);
  report ("site_aligned_alloc", site_aligned_alloc, N / 4, N / 4, 4096);
  for (i = 0; i < N; i++)
    free (site_memalign (NULL));
  report ("site_memalign", site_memalign, N, 0, 1900);
  for (i = 0; i < N / 4; i++)
    site_valloc (NULL);
  report ("site_valloc", site_valloc, N / 4, N / 4, 2000);
  for (i = 0; i < N / 4; i++)
    free (site_pvalloc (NULL));
  report ("site_pvalloc", site_pvalloc, N / 4, 0, 2100);

  for (i = 0; i < N; i++)
    {
      unsigned char *p = calloc (1, 1);
      free (p);
      p = site_calloc (NULL);
      for (int j = 0; j < 2200; j++)
        if (p[j] != 0)
          {
            fprintf (stderr, "calloc %d: byte %d not zero\n", i, j);
            failed = 1;
            break;
          }
      memset (p, 0x5a, 2200);
      free (calloc (1, 2200));
    }
  report ("site_calloc", site_calloc, N, N, 2200);

  void *big[N_BIG];
  for (i = 0; i < N_BIG; i++)
    big[i] = site_mmapped (NULL);
  for (i = 0; i < N_BIG; i += 2)
    free (big[i]);
  report ("site_mmapped", site_mmapped, N_BIG, N_BIG / 2, 300000);

  pthread_create (&t, NULL, allocate_and_exit, NULL);
  pthread_join (t, NULL);
  for (i = 0; i < N; i++)
    if (i % 4 != 0)
      free (in_thread[i]);
  report ("site_in_thread", site_in_thread, N, N / 4, 2300);

  if (argc > 1 && strcmp (argv[1], "fork") == 0)
    {
      for (i = 0; i < N; i++)
        blocks[i] = site_before_fork (NULL);
      report ("site_before_fork", site_before_fork, N, N, 2400);
      fflush (stdout);
      pid_t pid = fork ();
      if (pid == 0)
        {
          for (i = 0; i < N; i++)
            free (blocks[i]);
          for (i = 0; i < N; i++)
            blocks[i] = site_in_child (NULL);
          for (i = 0; i < N; i += 2)
            free (blocks[i]);
          printf ("child %d\n", (int) getpid ());
          report ("site_in_child", site_in_child, N, N / 2, 2500);
          exit (failed);
        }
      int status;
      waitpid (pid, &status, 0);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        failed = 1;
    }

  report ("main", main, 0, 0, 0);
  return failed;
}

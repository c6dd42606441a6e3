/* A program started without the profiler, for mprof attach to switch it
   on.  It prints "ready", then frees a block of 256 KiB it allocates at
   site_warm every 2 ms, so that it takes a request from outside soon,
   and reads commands:
     run P   four threads allocate at the sites of phase P (0 to 3), one
	     each, and exit; it prints "site NAME ADDRESS REQUESTS LIVE SIZE"
	     for each site, then "ran P".
     free P  frees what phase P kept, and prints "freed P".
     fork    a child allocates at site_child, keeps it and exits; the
	     parent prints "forked", with the child's site, once it has.
     quit    prints "bye" and exits with status 3.
   attach still: the same, but with no allocation between commands.
   attach nodump: it makes itself not dumpable first.
   Built with -DOWN_MALLOC, the program brings a malloc of its own, and
   leaves aligned_alloc, which site_warm calls, to libc.  */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef OWN_MALLOC
#include <dlfcn.h>

static char arena[64 << 20] __attribute__ ((aligned (64)));
static size_t used;

void *
malloc (size_t n)
{
  size_t at = __atomic_fetch_add (&used, (n + 63) & ~(size_t) 63,
				  __ATOMIC_RELAXED);
  return at + n <= sizeof arena ? arena + at : NULL;
}

/* Blocks of libc's, from the aligned allocation functions this malloc
   leaves to libc, are freed by libc.  */
void
free (void *p)
{
  static void (*next) (void *);
  if (p == NULL || ((char *) p >= arena && (char *) p < arena + sizeof arena))
    return;
  if (next == NULL)
    next = (void (*) (void *)) dlsym (RTLD_NEXT, "free");
  next (p);
}

void *
calloc (size_t n, size_t size)
{
  return malloc (n * size);
}

void *
realloc (void *p, size_t n)
{
  void *q = malloc (n);
  if (p != NULL && q != NULL)
    memcpy (q, p, n);
  return q;
}
#endif

#define N 2000
#define PHASES 4

#define SITE(name, size)                                                \
  static __attribute__ ((noinline)) void *name (void)                   \
  {                                                                     \
    void *p = malloc (size);                                            \
    if (p == NULL)                                                      \
      abort ();                                                         \
    memset (p, 1, size);                                                \
    return p;                                                           \
  }
#define PHASE_SITES(p)                                                  \
  SITE (site_##p##_keep, 4096)                                          \
  SITE (site_##p##_freed, 4096)                                         \
  SITE (site_##p##_half, 1024)                                          \
  SITE (site_##p##_big, 16384)
PHASE_SITES (0)
PHASE_SITES (1)
PHASE_SITES (2)
PHASE_SITES (3)
#ifdef OWN_MALLOC
/* From libc's heap, as this malloc leaves aligned_alloc to libc.  */
static __attribute__ ((noinline)) void *
site_warm (void)
{
  return aligned_alloc (64, 256 << 10);
}
#else
SITE (site_warm, 256 << 10)
#endif
SITE (site_child, 8192)

struct site
{
  const char *name;
  void *(*fn) (void);
  int requests, live, size;
};

#define PHASE_TABLE(p)                                                  \
  { { "site_" #p "_keep", site_##p##_keep, N, N, 4096 },               \
    { "site_" #p "_freed", site_##p##_freed, N, 0, 4096 },             \
    { "site_" #p "_half", site_##p##_half, 2 * N, N, 1024 },           \
    { "site_" #p "_big", site_##p##_big, N / 2, 0, 16384 } }
static const struct site sites[PHASES][4] =
  { PHASE_TABLE (0), PHASE_TABLE (1), PHASE_TABLE (2), PHASE_TABLE (3) };

/* What each phase keeps, by site, and what the child of fork does.  */
static void *kept[PHASES][4][2 * N], *children[N / 2];

struct job
{
  int phase, site;
};

static void *
allocate (void *arg)
{
  const struct job *j = arg;
  const struct site *s = &sites[j->phase][j->site];
  void **keep = kept[j->phase][j->site];
  for (int i = 0; i < s->requests; i++)
    {
      void *p = s->fn ();
      if (i < s->live)
	keep[i] = p;
      else
	free (p);
    }
  return NULL;
}

static void
run (int phase)
{
  pthread_t t[4];
  struct job jobs[4];
  for (int i = 0; i < 4; i++)
    {
      jobs[i] = (struct job) { phase, i };
      if (pthread_create (&t[i], NULL, allocate, &jobs[i]) != 0)
	abort ();
    }
  for (int i = 0; i < 4; i++)
    pthread_join (t[i], NULL);
  for (int i = 0; i < 4; i++)
    {
      const struct site *s = &sites[phase][i];
      printf ("site %s %p %d %d %d\n", s->name, (void *) s->fn, s->requests,
	      s->live, s->size);
    }
  printf ("ran %d\n", phase);
}

static void
free_phase (int phase)
{
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < sites[phase][i].live; k++)
      free (kept[phase][i][k]);
  printf ("freed %d\n", phase);
}

static void
fork_child (void)
{
  fflush (stdout);
  pid_t pid = fork ();
  if (pid < 0)
    abort ();
  if (pid == 0)
    {
      for (int i = 0; i < N / 2; i++)
	children[i] = site_child ();
      exit (0);
    }
  int status;
  if (waitpid (pid, &status, 0) != pid || status != 0)
    abort ();
  printf ("site site_child %p %d %d 8192\n", (void *) site_child, N / 2,
	  N / 2);
  printf ("forked\n");
}

int
main (int argc, char **argv)
{
  int still = argc > 1 && strcmp (argv[1], "still") == 0;
  if (argc > 1 && strcmp (argv[1], "nodump") == 0)
    prctl (PR_SET_DUMPABLE, 0);
  setvbuf (stdin, NULL, _IONBF, 0);
  printf ("ready\n");
  fflush (stdout);
  char line[64];
  size_t len = 0;
  for (;;)
    {
      struct pollfd pfd = { .fd = 0, .events = POLLIN };
      if (poll (&pfd, 1, still ? -1 : 2) == 0)
	{
	  free (site_warm ());
	  continue;
	}
      char c;
      if (read (0, &c, 1) != 1)
	return 1;
      if (c != '\n')
	{
	  if (len < sizeof line - 1)
	    line[len++] = c;
	  continue;
	}
      line[len] = '\0';
      len = 0;
      int phase;
      if (sscanf (line, "run %d", &phase) == 1 && phase >= 0
	  && phase < PHASES)
	run (phase);
      else if (sscanf (line, "free %d", &phase) == 1 && phase >= 0
	       && phase < PHASES)
	free_phase (phase);
      else if (strcmp (line, "fork") == 0)
	fork_child ();
      else if (strcmp (line, "quit") == 0)
	{
	  printf ("bye\n");
	  return 3;
	}
      else
	printf ("unknown command %s\n", line);
      fflush (stdout);
    }
}

/* Lays malloc's memory out as LAYOUT says, then prints, at a pause,
   what malloc and the kernel say of it, for the runner to hold a dump's
   breakdown against:

     mallinfo ARENA ORDBLKS UORDBLKS FORDBLKS HBLKHD KEEPCOST
     rss BYTES
     tcache BYTES          (what the layout put in the tcache)

   then "ready", and waits for a line on its standard input; then the
   same again, the pause at which to dump.  Then it
   calls malloc_trim (0) and prints "trimmed BYTES", the fall of its
   resident memory, and at exit the same lines as before the pause.

   memory frag|threads|top|tcache|mmapped  */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N 20000
#define THREADS 8

static void *blocks[N];
static pthread_barrier_t barrier;
static size_t in_tcache;

static long long
rss (void)
{
  char line[256];
  long long kb = -1;
  FILE *f = fopen ("/proc/self/smaps_rollup", "r");
  while (f != NULL && fgets (line, sizeof line, f) != NULL)
    if (sscanf (line, "Rss: %lld kB", &kb) == 1)
      break;
  if (f != NULL)
    fclose (f);
  return kb * 1024;
}

static void
figures (void)
{
  /* rss first: its FILE and buffer, freed, go to the tcache.  */
  long long resident = rss ();
  struct mallinfo2 m = mallinfo2 ();
  printf ("mallinfo %zu %zu %zu %zu %zu %zu\n", m.arena, m.ordblks,
          m.uordblks, m.fordblks, m.hblkhd, m.keepcost);
  printf ("rss %lld\n", resident);
  printf ("tcache %zu\n", in_tcache);
  fflush (stdout);
}

static void *
fill (size_t size, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      blocks[i] = malloc (size);
      memset (blocks[i], 1, size);
    }
  return NULL;
}

/* Each thread allocates in its own arena, and keeps it busy until the
   end.  */
static void *
thread (void *arg)
{
  void **mine = malloc (1000 * sizeof *mine);
  for (int i = 0; i < 1000; i++)
    memset (mine[i] = malloc (4000), 2, 4000);
  pthread_barrier_wait (&barrier);
  pthread_barrier_wait (&barrier);
  return mine;
}

int
main (int argc, char **argv)
{
  const char *layout = argc > 1 ? argv[1] : "";
  /* Unbuffered: stdio allocates no buffer between the figures and the
     dump.  */
  setvbuf (stdin, NULL, _IONBF, 0);
  setvbuf (stdout, NULL, _IONBF, 0);
  pthread_t t[THREADS];
  int threads = 0;
  if (strcmp (layout, "frag") == 0)
    {
      /* Every other block of 6000 bytes freed: 60 MB of holes between
         blocks in use, many holding a whole page malloc_trim gives
         back.  */
      fill (6000, N);
      for (size_t i = 0; i < N; i += 2)
        free (blocks[i]);
    }
  else if (strcmp (layout, "threads") == 0)
    {
      pthread_barrier_init (&barrier, NULL, THREADS + 1);
      for (threads = 0; threads < THREADS; threads++)
        pthread_create (&t[threads], NULL, thread, NULL);
      pthread_barrier_wait (&barrier);
    }
  else if (strcmp (layout, "top") == 0)
    {
      /* 60 MB in the main heap, then all of it freed but one block at
         its start: the top is large, but below the trim threshold once
         free raised it.  */
      mallopt (M_TRIM_THRESHOLD, 512 * 1024 * 1024);
      mallopt (M_MMAP_THRESHOLD, 1024 * 1024);
      fill (60000, 1000);
      for (size_t i = 1; i < 1000; i++)
        free (blocks[i]);
    }
  else if (strcmp (layout, "tcache") == 0)
    {
      /* Seven blocks of each small size freed into the tcache.  */
      for (size_t size = 24; size <= 1000; size += 16)
        {
          void *p[7];
          for (int i = 0; i < 7; i++)
            {
              memset (p[i] = malloc (size), 3, size);
              /* The chunk: the usable bytes and its size field.  */
              in_tcache += malloc_usable_size (p[i]) + sizeof (size_t);
            }
          for (int i = 0; i < 7; i++)
            free (p[i]);
        }
    }
  else if (strcmp (layout, "mmapped") == 0)
    fill (1024 * 1024, 40);
  else
    {
      fprintf (stderr, "memory: no layout %s\n", layout);
      return 2;
    }

  /* Twice: the code that prints and waits is then resident the second
     time, as it is at the dump.  */
  char line[16];
  for (int i = 0; i < 2; i++)
    {
      figures ();
      puts ("ready");
      if (fgets (line, sizeof line, stdin) == NULL)
        return 1;
    }
  long long before = rss ();
  malloc_trim (0);
  printf ("trimmed %lld\n", before - rss ());
  figures ();
  if (threads > 0)
    pthread_barrier_wait (&barrier);
  for (int i = 0; i < threads; i++)
    pthread_join (t[i], NULL);
  return 0;
}

/* reuse DIR: loads DIR/libreuse_a.so, allocates through it and unloads
   it; then loads DIR/libreuse_b.so, which the system maps where the
   first was, and allocates through that.  Prints "reused" if it did.
   reuse DIR N: loads and unloads DIR/libreuse_a.so N times, as a
   program does its plugins; each time, one 1,111-byte block is
   allocated through the library and one 3,333-byte block by main.
   The blocks stay allocated.
   reuse DIR race N: two threads on one CPU take turns N times: one
   loads libreuse_a.so, allocates through it and unloads it; the other
   then loads libreuse_b.so, often where the first was, allocates
   through it and unloads it.  The turn passes in the destructor of
   the library being unloaded, which dlclose runs with the loader's
   lock held.  The second thread, of a real-time priority, preempts the
   first as soon as it can: its dlopen then waits for the loader's lock
   and runs as soon as the first thread's dlclose releases it, before
   that dlclose returns.  Prints how many loads of the one were where
   the other had been.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
load (const char *dir, const char *name, void **blocks, int n)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/libreuse_%s.so", dir, name);
  void *h = dlopen (path, RTLD_NOW);
  char sym[16];
  snprintf (sym, sizeof sym, "reuse_%s", name);
  void (*fn) (void **, int) = h != NULL ? dlsym (h, sym) : NULL;
  Dl_info info;
  if (fn == NULL || dladdr (fn, &info) == 0)
    return NULL;
  fn (blocks, n);
  dlclose (h);
  return info.dli_fbase;
}

static const char *dir;
static int rounds;
static sem_t turn[2];
static __thread int self;
static int reused;

static void
pass_turn (void)
{
  sem_post (&turn[!self]);
}

static void *
race (void *arg)
{
  int me = self = arg != NULL;
  const char *name = me ? "b" : "a";
  char path[4096];
  snprintf (path, sizeof path, "%s/libreuse_%s.so", dir, name);
  char sym[16], on_unload[32];
  snprintf (sym, sizeof sym, "reuse_%s", name);
  snprintf (on_unload, sizeof on_unload, "reuse_%s_on_unload", name);
  static void *base[2];
  for (int i = 0; i < rounds; i++)
    {
      sem_wait (&turn[me]);
      void *h = dlopen (path, RTLD_NOW);
      void (*fn) (void **, int) = h != NULL ? dlsym (h, sym) : NULL;
      void (*set) (void (*) (void)) = h != NULL ? dlsym (h, on_unload) : NULL;
      Dl_info info;
      if (fn == NULL || set == NULL || dladdr (fn, &info) == 0)
	exit (1);
      set (pass_turn);
      void *block;
      fn (&block, 1);
      free (block);
      reused += info.dli_fbase == base[!me];
      base[me] = info.dli_fbase;
      dlclose (h);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  static void *a[100], *b[100];
  if (argc == 4 && strcmp (argv[2], "race") == 0)
    {
      dir = argv[1];
      rounds = atoi (argv[3]);
      cpu_set_t one;
      CPU_ZERO (&one);
      CPU_SET (sched_getcpu (), &one);
      pthread_attr_t attr;
      struct sched_param rt = { .sched_priority = 1 };
      pthread_t t;
      if (sched_setaffinity (0, sizeof one, &one) != 0
	  || sem_init (&turn[0], 0, 1) != 0 || sem_init (&turn[1], 0, 0) != 0
	  || pthread_attr_init (&attr) != 0
	  || pthread_attr_setinheritsched (&attr, PTHREAD_EXPLICIT_SCHED) != 0
	  || pthread_attr_setschedpolicy (&attr, SCHED_FIFO) != 0
	  || pthread_attr_setschedparam (&attr, &rt) != 0
	  || pthread_create (&t, &attr, race, "b") != 0)
	return 1;
      race (NULL);
      pthread_join (t, NULL);
      printf ("%d\n", reused);
      return 0;
    }
  if (argc == 3)
    {
      int n = atoi (argv[2]);
      for (int i = 0; i < n; i++)
	if (load (argv[1], "a", a, 1) == NULL || malloc (3333) == NULL)
	  return 1;
      return 0;
    }
  if (argc != 2)
    return 2;
  void *first = load (argv[1], "a", a, 100);
  void *second = load (argv[1], "b", b, 100);
  if (first == NULL || second == NULL)
    return 1;
  puts (first == second ? "reused" : "not reused");
  return 0;
}

/* reuse DIR: loads DIR/libreuse_a.so, allocates through it and unloads
   it; then loads DIR/libreuse_b.so, which the system maps where the
   first was, and allocates through that.  Prints "reused" if it did.
   reuse DIR N: loads and unloads DIR/libreuse_a.so N times, as a
   program does its plugins; each time, one 1,111-byte block is
   allocated through the library and one 3,333-byte block by main.
   The blocks stay allocated.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

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

int
main (int argc, char **argv)
{
  static void *a[100], *b[100];
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

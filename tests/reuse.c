/* reuse DIR: loads DIR/libreuse_a.so, allocates through it and unloads
   it; then loads DIR/libreuse_b.so, which the system maps where the
   first was, and allocates through that.  Prints "reused" if it did.
   The blocks stay allocated.  */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>

static void *
load (const char *dir, const char *name, void **blocks)
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
  fn (blocks, 100);
  dlclose (h);
  return info.dli_fbase;
}

int
main (int argc, char **argv)
{
  static void *a[100], *b[100];
  if (argc != 2)
    return 2;
  void *first = load (argv[1], "a", a);
  void *second = load (argv[1], "b", b);
  if (first == NULL || second == NULL)
    return 1;
  puts (first == second ? "reused" : "not reused");
  return 0;
}

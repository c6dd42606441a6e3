/* Prints, for each allocation function, whether the dynamic linker
   bound it to the entry point malloc.c exports as __libc_*, which does
   no accounting ("plain") or to another one ("counted"), as seen from
   the main thread and from a new one.  */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static const char *const pairs[][2] = {
  { "malloc", "__libc_malloc" },
  { "calloc", "__libc_calloc" },
  { "realloc", "__libc_realloc" },
  { "memalign", "__libc_memalign" },
  { "aligned_alloc", "__libc_memalign" },
  { "valloc", "__libc_valloc" },
  { "pvalloc", "__libc_pvalloc" },
};

static void *
report (void *who)
{
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
    {
      void *bound = dlsym (RTLD_DEFAULT, pairs[i][0]);
      void *plain = dlsym (RTLD_DEFAULT, pairs[i][1]);
      if (bound == NULL || plain == NULL)
        return (void *) 1;
      printf ("%s %s %s\n", (char *) who, pairs[i][0],
              bound == plain ? "plain" : "counted");
    }
  return NULL;
}

int
main (void)
{
  pthread_t t;
  void *ret;
  if (report ("main") != NULL
      || pthread_create (&t, NULL, report, "thread") != 0
      || pthread_join (t, &ret) != 0 || ret != NULL)
    return 1;
  return 0;
}

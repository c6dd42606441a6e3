/* dtor LIB: loads LIB and unloads it, which runs its destructor.  */
#include <dlfcn.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  if (argc != 2)
    return 2;
  void *h = dlopen (argv[1], RTLD_NOW);
  if (h == NULL)
    {
      fprintf (stderr, "%s\n", dlerror ());
      return 1;
    }
  return dlclose (h) != 0;
}

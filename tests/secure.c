/* Built with the patched loader as its interpreter, so that it can run
   setuid: allocates, then prints what it sees of the profiler's
   variables.  */
#include <stdio.h>
#include <stdlib.h>

int
main (void)
{
  static const char *vars[] = {
    "GLIBC_MALLOC_PROFILE", "GLIBC_MALLOC_PROFILE_BYTES",
    "GLIBC_MALLOC_PROFILE_OUT", "GLIBC_MALLOC_PROFILE_SEED",
    "GLIBC_TUNABLES",
  };
  for (int i = 0; i < 1000; i++)
    free (malloc (1000));
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    {
      const char *v = getenv (vars[i]);
      printf ("%s=%s\n", vars[i], v != NULL ? v : "(unset)");
    }
  return 0;
}

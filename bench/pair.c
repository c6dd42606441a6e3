/* pair N: N malloc (64) and free pairs, for counting the instructions of
   one (bench/aarch64.py).  */
#include <stdlib.h>
int main (int argc, char **argv)
{
  long n = atol (argv[1]);
  for (long i = 0; i < n; i++)
    {
      void *volatile p = malloc (64);
      free (p);
    }
  return 0;
}

/* A series of dumps whose memory maps keep changing: 100 times, map one
   more page of the file named by the first argument, then allocate
   1 MiB.  With GLIBC_MALLOC_PROFILE_INTERVAL at 1 MiB, each dump finds
   one more mapping than the last.  */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  int fd = argc > 1 ? open (argv[1], O_RDONLY) : -1;
  if (fd < 0)
    return 1;
  long int page = sysconf (_SC_PAGESIZE);
  for (int i = 0; i < 100; i++)
    {
      /* Every other page, so that the kernel merges no two mappings.  */
      if (mmap (NULL, page, PROT_READ, MAP_PRIVATE, fd, 2 * i * page)
          == MAP_FAILED)
        return 1;
      for (int j = 0; j < 16; j++)
        {
          void *volatile p = malloc (65536);
          free (p);
        }
    }
  return 0;
}

/* Raise the otel_memory probes' semaphores of this process's libc.so.6,
   as a consumer's attach raises them, given their offsets in the file
   (strings, as readelf -n prints them).  */
#include <link.h>
#include <stdlib.h>
#include <string.h>

static int
find_libc (struct dl_phdr_info *info, size_t size, void *data)
{
  if (strstr (info->dlpi_name, "/libc.so.6") != NULL)
    *(char **) data = (char *) info->dlpi_addr;
  return 0;
}

static void
raise_semaphores (char **offsets, int n)
{
  char *base = NULL;
  dl_iterate_phdr (find_libc, &base);
  for (int i = 0; i < n; i++)
    ++*(unsigned short *) (base + strtoul (offsets[i], NULL, 0));
}

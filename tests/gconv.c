/* Converts with ISO-8859-2, whose gconv module glibc loads, then with
   ISO-8859-3 three times: each release of that module counts down the
   unused ISO-8859-2 module, which glibc unloads with __libc_dlclose at
   the third.  */
#include <iconv.h>
#include <stdio.h>

static int
convert (const char *charset)
{
  iconv_t cd = iconv_open (charset, "UTF-8");
  if (cd == (iconv_t) -1)
    return 1;
  char in[] = "abc", out[16];
  char *ip = in, *op = out;
  size_t il = 3, ol = sizeof out;
  if (iconv (cd, &ip, &il, &op, &ol) == (size_t) -1)
    return 1;
  return iconv_close (cd);
}

int
main (void)
{
  if (convert ("ISO-8859-2") != 0)
    return 1;
  for (int i = 0; i < 3; i++)
    if (convert ("ISO-8859-3") != 0)
      return 1;
  puts ("done");
  return 0;
}

/* Allocates 2,222-byte blocks, from where libreuse_a.so was (tests/reuse.c):
   the same code, so the same layout, under other names.  */
#define reuse_a reuse_b
#define reuse_a_on_unload reuse_b_on_unload
#define REUSE_SIZE 2222
#include "libreuse_a.c"

/* spawn PROGRAM: runs PROGRAM through posix_spawn, then through system
   (a shell that runs it), waiting for each.  */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int
main (int argc, char **argv)
{
  pid_t pid;
  int status;
  char *args[] = { argv[1], NULL };
  if (argc != 2 || posix_spawn (&pid, argv[1], NULL, NULL, args, environ) != 0
      || waitpid (pid, &status, 0) != pid || status != 0)
    return 1;
  fflush (stdout);
  return system (argv[1]) == 0 ? 0 : 1;
}

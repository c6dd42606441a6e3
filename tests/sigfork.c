/* sigfork N: a timer interrupts a loop that allocates, and its handler
   forks, N times, each time after a different delay.  Each child
   returns from the handler into whatever the loop was doing, allocates
   on, and exits; the parent reports how each child ended.  */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t forks, in_child, bad;

/* Interrupt the loop in DELAY microseconds; armed again only once the
   child is done, so that the loop runs between two forks.  */
static void
arm (long int delay)
{
  struct itimerval it = { { 0, 0 }, { 0, delay } };
  setitimer (ITIMER_REAL, &it, NULL);
}

static void
handler (int sig)
{
  (void) sig;
  if (in_child)
    return;
  pid_t pid = fork ();
  if (pid == 0)
    {
      in_child = 1;
      return;
    }
  int status;
  if (pid < 0 || waitpid (pid, &status, 0) != pid
      || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    bad++;
  forks++;
  arm (50 + forks * 37 % 450);
}

static __attribute__ ((noinline)) void *
deep (int n, size_t size)
{
  return n == 0 ? malloc (size) : deep (n - 1, size);
}

int
main (int argc, char **argv)
{
  int n = argc > 1 ? atoi (argv[1]) : 100;
  struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_RESTART };
  sigaction (SIGALRM, &sa, NULL);
  arm (1000);
  for (unsigned int i = 0; forks < n; i++)
    {
      free (deep (i % 32, 100 + i % 1000));
      if (in_child)
	{
	  for (int j = 0; j < 1000; j++)
	    free (deep (j % 32, 100 + j));
	  exit (0);
	}
    }
  arm (0);
  printf ("forks %d bad %d pid %d\n", (int) forks, (int) bad,
	  (int) getpid ());
  return bad != 0;
}

/* Stress programs for the profiler; the mode is the first argument.
     many   10,000 short-lived threads, half detached, half joined
     wide   32 threads allocating at once
     fork   threads allocate while the main thread forks children that
            allocate, fork grandchildren, and exit; then posix_spawn and
            system
     signal threads allocate under a fast SIGALRM timer without
            SA_RESTART
     reenter  a SIGALRM handler allocates (from a tcache bin nothing
            else uses) while the thread is often in the slow path
   Each prints "pid PID" for every process that should leave profiles.  */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void
churn (int n, size_t size)
{
  for (int i = 0; i < n; i++)
    {
      void *p = malloc (size + i % 64);
      if (p == NULL)
        abort ();
      free (p);
    }
}

static void *
short_lived (void *arg)
{
  (void) arg;
  churn (20, 100);
  return NULL;
}

static void
many (void)
{
  pthread_attr_t detached;
  pthread_attr_init (&detached);
  pthread_attr_setdetachstate (&detached, PTHREAD_CREATE_DETACHED);
  for (int round = 0; round < 100; round++)
    {
      pthread_t t[50];
      for (int i = 0; i < 50; i++)
        if (pthread_create (&t[i], NULL, short_lived, NULL) != 0)
          abort ();
      for (int i = 0; i < 50; i++)
        {
          pthread_t d;
          while (pthread_create (&d, &detached, short_lived, NULL) != 0)
            usleep (1000);
        }
      for (int i = 0; i < 50; i++)
        pthread_join (t[i], NULL);
    }
  /* Let the detached threads finish before exit.  */
  sleep (1);
}

static void *
busy (void *arg)
{
  churn ((int) (long) arg, 200);
  return NULL;
}

static void
run_threads (int n, int iterations)
{
  pthread_t t[64];
  for (int i = 0; i < n; i++)
    if (pthread_create (&t[i], NULL, busy, (void *) (long) iterations) != 0)
      abort ();
  for (int i = 0; i < n; i++)
    pthread_join (t[i], NULL);
}

static volatile int stop;

static void *
until_stopped (void *arg)
{
  (void) arg;
  while (!stop)
    churn (100, 300);
  return NULL;
}

static void
forks (void)
{
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create (&t[i], NULL, until_stopped, NULL);
  for (int i = 0; i < 20; i++)
    {
      pid_t child = fork ();
      if (child == 0)
        {
          churn (1000, 400);
          pid_t grandchild = fork ();
          if (grandchild == 0)
            {
              churn (1000, 500);
              exit (0);
            }
          waitpid (grandchild, NULL, 0);
          printf ("pid %d\npid %d\n", (int) getpid (), (int) grandchild);
          exit (0);
        }
      waitpid (child, NULL, 0);
    }
  stop = 1;
  for (int i = 0; i < 4; i++)
    pthread_join (t[i], NULL);
  pid_t spawned;
  char *argv[] = { (char *) "true", NULL };
  if (posix_spawn (&spawned, "/bin/true", NULL, NULL, argv, environ) == 0)
    waitpid (spawned, NULL, 0);
  if (system ("true") != 0)
    abort ();
}

static void
on_alarm (int sig)
{
  (void) sig;
}

static void
on_alarm_allocating (int sig)
{
  (void) sig;
  /* 24 bytes: a tcache bin the interrupted code never uses, so the
     handler's malloc takes no lock and touches nothing in use.  */
  void *p = malloc (24);
  free (p);
}

static void
timer (void (*handler) (int))
{
  struct sigaction sa;
  memset (&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigaction (SIGALRM, &sa, NULL);
  struct itimerval it = { { 0, 100 }, { 0, 100 } };
  setitimer (ITIMER_REAL, &it, NULL);
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";
  /* Fill the 24-byte tcache bin for the re-entry handler.  */
  void *warm[7];
  for (int i = 0; i < 7; i++)
    warm[i] = malloc (24);
  for (int i = 0; i < 7; i++)
    free (warm[i]);
  if (strcmp (mode, "many") == 0)
    many ();
  else if (strcmp (mode, "wide") == 0)
    run_threads (32, 20000);
  else if (strcmp (mode, "fork") == 0)
    forks ();
  else if (strcmp (mode, "signal") == 0)
    {
      timer (on_alarm);
      run_threads (4, 20000);
    }
  else if (strcmp (mode, "reenter") == 0)
    {
      timer (on_alarm_allocating);
      churn (200000, 1000);
    }
  else
    return 2;
  printf ("pid %d\n", (int) getpid ());
  return 0;
}

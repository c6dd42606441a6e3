// C++ allocations for the stack tests, built with and without frame
// pointers: new, std::vector and std::string, each from a function of
// its own.  Prints each path, innermost user function first, as
// "chain SIZE FUNCTION...".

#include <cstdio>
#include <string>
#include <vector>

#define NOINLINE __attribute__ ((noinline))

const int n = 2000;

struct big
{
  char data[4000];
};

static big *news[n];
static std::vector<char> vectors[n];
static std::string strings[n];

NOINLINE void
make_new (int i)
{
  news[i] = new big;
}

NOINLINE void
make_vector (int i)
{
  vectors[i].resize (5000);
}

NOINLINE void
make_string (int i)
{
  strings[i].assign (6000, 'x');
}

NOINLINE void
work ()
{
  for (int i = 0; i < n; i++)
    {
      make_new (i);
      make_vector (i);
      make_string (i);
    }
}

int
main ()
{
  work ();
  std::printf ("chain 4000 make_new work main\n");
  std::printf ("chain 5000 make_vector work main\n");
  std::printf ("chain 6001 make_string work main\n");
  for (int i = 0; i < n; i++)
    delete news[i];
  return 0;
}

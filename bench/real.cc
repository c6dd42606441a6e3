// Input for the cc1plus workload: common standard library headers and a
// few instantiations, so that the compiler allocates as it does on real
// code.
#include <algorithm>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

template <typename K, typename V>
std::map<K, std::vector<V>>
group (const std::vector<std::pair<K, V>> &in)
{
  std::map<K, std::vector<V>> out;
  for (const auto &[k, v] : in)
    out[k].push_back (v);
  return out;
}

int
main ()
{
  std::vector<std::pair<std::string, int>> a{{"x", 1}, {"y", 2}};
  auto g = group (a);
  std::unordered_map<int, std::set<std::string>> u;
  std::regex re ("[a-z]+([0-9]*)");
  std::smatch m;
  std::string s = "abc123";
  if (std::regex_match (s, m, re))
    u[1].insert (m[1]);
  std::ostringstream os;
  os << g.size () << u.size () << std::setw (4) << 3.5;
  std::vector<std::shared_ptr<std::function<int (int)>>> fs;
  fs.push_back (std::make_shared<std::function<int (int)>> ([] (int x) {
    return x + 1;
  }));
  std::sort (a.begin (), a.end ());
  return (int) os.str ().size () + (*fs[0]) (1);
}

// Deterministic synthetic weights for the tests, qnt-bench and the quality table:
// splitmix64 and Box-Muller, no std:: distributions (whose output differs between
// standard libraries), so every machine draws the same numbers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qnt_synthetic {

class rng {
 public:
  explicit rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {  // splitmix64
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double open_uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double gauss() { return std::sqrt(-2 * std::log(open_uniform())) * std::cos(6.283185307179586 * uniform()); }
  double laplace() {
    const double u = open_uniform() - 0.5;
    return (u < 0 ? 1 : -1) * std::log(1 - 2 * std::fabs(u)) / std::sqrt(2.0);
  }
  double student_t3() {  // Student t with 3 degrees of freedom, unit variance
    const double z = gauss();
    double chi2 = 0;
    for (int k = 0; k < 3; ++k) {
      const double g = gauss();
      chi2 += g * g;
    }
    return z / std::sqrt(chi2 / 3) / std::sqrt(3.0);
  }
  int below(int n) { return int(next() % uint64_t(n)); }

 private:
  uint64_t s_;
};

enum class dist { gaussian, laplace, student_t3, outliers };
inline std::string dist_name(dist d) {
  switch (d) {
    case dist::gaussian: return "gaussian";
    case dist::laplace: return "laplace";
    case dist::student_t3: return "student-t3";
    case dist::outliers: return "outliers";
  }
  return "?";
}
inline constexpr dist all_dists[] = {dist::gaussian, dist::laplace, dist::student_t3, dist::outliers};

// n weights of standard deviation `scale`; `outliers`: 0.1% of them 20x larger.
inline std::vector<float> weights(dist d, size_t n, uint64_t seed, float scale = 0.02f) {
  rng r(seed);
  std::vector<float> x(n);
  for (auto& v : x) {
    double g = 0;
    switch (d) {
      case dist::gaussian: g = r.gauss(); break;
      case dist::laplace: g = r.laplace(); break;
      case dist::student_t3: g = r.student_t3(); break;
      case dist::outliers: g = r.gauss() * (r.uniform() < 0.001 ? 20 : 1); break;
    }
    v = float(g * scale);
  }
  return x;
}

}  // namespace qnt_synthetic

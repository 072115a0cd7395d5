// Shared helpers of the tests: deterministic weight generators (no std::
// distributions, whose output differs between standard libraries), error measures
// and golden-file reading.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace qnt_test {

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

inline double rel_rmse(const float* a, const float* b, size_t n) {
  double e = 0, s = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(a[i]) - b[i];
    e += d * d, s += double(a[i]) * a[i];
  }
  return s > 0 ? std::sqrt(e / s) : std::sqrt(e);
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

struct golden {
  std::string type, act_type;
  uint32_t rows = 0, cols = 0, row_bytes = 0, act_bytes = 0, block_size = 0;
  double ref_rel_rmse = 0;
  std::vector<float> input, dequant, activation, dot;
  std::vector<uint8_t> blocks, act_blocks;
};

// Reads tests/data/<type>.bin (layout in tests/data/README.md). False on any error.
inline bool load_golden(const std::string& type, golden& g) {
  std::ifstream f(std::string(QNT_TEST_DATA_DIR) + "/" + type + ".bin", std::ios::binary);
  if (!f) return false;
  char magic[8], name[16], act[16];
  f.read(magic, 8).read(name, 16).read(act, 16);
  if (!f || std::memcmp(magic, "QNTGOLD1", 8) != 0) return false;
  g.type.assign(name, strnlen(name, 16));
  g.act_type.assign(act, strnlen(act, 16));
  uint32_t h[5];
  f.read(reinterpret_cast<char*>(h), sizeof h);
  g.rows = h[0], g.cols = h[1], g.row_bytes = h[2], g.act_bytes = h[3], g.block_size = h[4];
  f.read(reinterpret_cast<char*>(&g.ref_rel_rmse), 8);
  const size_t n = size_t(g.rows) * g.cols;
  auto read = [&](auto& v, size_t count) {
    v.resize(count);
    f.read(reinterpret_cast<char*>(v.data()), std::streamsize(count * sizeof(v[0])));
  };
  read(g.input, n);
  read(g.blocks, size_t(g.rows) * g.row_bytes);
  read(g.dequant, n);
  read(g.activation, g.cols);
  read(g.act_blocks, g.act_bytes);
  read(g.dot, g.rows);
  return bool(f);
}

}  // namespace qnt_test

// Shared helpers of the tests: deterministic weight generators, error measures and
// golden-file reading.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../tools/synthetic.hpp"

namespace qnt_test {

// The generators live with the tools, which print figures measured on the same
// weights the tests check.
using qnt_synthetic::all_dists;
using qnt_synthetic::dist;
using qnt_synthetic::dist_name;
using qnt_synthetic::rng;
using qnt_synthetic::weights;

// Threads for a test call. QNT_TEST_ONE_THREAD=1 (set by tools/cross-test) keeps every
// call on the calling thread: user-mode emulators may not run threads.
inline unsigned threads(unsigned wanted) {
  const char* one = std::getenv("QNT_TEST_ONE_THREAD");
  return one && *one == '1' ? 1u : wanted;
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

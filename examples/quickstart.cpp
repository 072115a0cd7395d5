// quickstart: quantize a weight matrix to q4_K, multiply a vector straight from the
// blocks, and compare with the product of the unquantized weights.
//   ./build/examples/quickstart
#include <qnt/q4_k.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  constexpr size_t rows = 256, cols = 1024;
  std::vector<float> w(rows * cols), x(cols);
  uint32_t s = 1;
  auto next = [&] { return float(int((s = s * 1664525u + 1013904223u) >> 16) - 32768) / 32768.f; };
  for (auto& v : w) v = 0.02f * next() * next() * 3;  // peaked around zero, like real weights
  for (auto& v : x) v = next();

  // Each row is cols / 256 consecutive blocks: GGUF's tensor layout.
  std::vector<qnt::q4_k::block> blocks(rows * cols / qnt::q4_k::block_size);
  if (qnt::status st = qnt::quantize<qnt::q4_k>(w.data(), blocks.data(), w.size()); st != qnt::status::ok) {
    std::printf("quantize: %s\n", qnt::to_string(st));
    return 1;
  }
  std::vector<float> y(rows);
  qnt::matvec<qnt::q4_k>(blocks.data(), rows, cols, x.data(), y.data());

  double err = 0, ref = 0;
  for (size_t r = 0; r < rows; ++r) {
    double exact = 0;
    for (size_t c = 0; c < cols; ++c) exact += double(w[r * cols + c]) * x[c];
    err += (y[r] - exact) * (y[r] - exact), ref += exact * exact;
  }
  std::printf("%zu x %zu weights in %zu bytes of q4_K (%.2f bits per weight), SIMD target %s\n", rows, cols,
              blocks.size() * sizeof(qnt::q4_k::block), qnt::bits_per_weight<qnt::q4_k>, qnt::active_target());
  std::printf("matvec relative error against the f32 weights: %.4f\n", std::sqrt(err / ref));
  return 0;
}

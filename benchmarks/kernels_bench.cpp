// The SIMD kernels one format at a time: dequantize, matvec (one thread) and matmul
// (n = 32, all threads) on a 1024 x 4096 matrix.
// Run: ./build/benchmarks/qnt_benchmarks "[kernels]"
#include <catch2/catch.hpp>

#include <qnt/qnt.hpp>
#include <string>
#include <vector>

namespace {

template <class F>
void bench_kernels() {
  constexpr size_t rows = 1024, cols = 4096, n = 32;
  // Quantize 64 Ki weights and repeat them: kernel speed does not depend on the values.
  constexpr size_t tile = 1 << 16;
  std::vector<float> w(tile);
  uint32_t s = 7;
  for (auto& v : w) v = float(int((s = s * 1664525u + 1013904223u) >> 20) - 2048) * 1e-5f;
  std::vector<typename F::block> b(rows * cols / F::block_size);
  qnt::quantize<F>(w.data(), b.data(), tile);
  for (size_t i = tile / F::block_size; i < b.size(); ++i) b[i] = b[i % (tile / F::block_size)];
  std::vector<float> x(n * cols, 0.125f), y(n * rows), d(rows * cols);
  const std::string name(F::name);
  BENCHMARK("dequantize 4 Mi weights " + name) {
    qnt::dequantize<F>(b.data(), d.data(), d.size());
    return d[0];
  };
  BENCHMARK("matvec 1024x4096, 1 thread " + name) {
    qnt::matvec<F>(b.data(), rows, cols, x.data(), y.data(), {.threads = 1});
    return y[0];
  };
  BENCHMARK("matmul 1024x4096 n=32 " + name) {
    qnt::matmul<F>(b.data(), rows, cols, x.data(), n, y.data());
    return y[0];
  };
}

}  // namespace

TEST_CASE("SIMD kernels, 1024 x 4096", "[kernels]") {
  qnt::all_formats::for_each([]<class F>() { bench_kernels<F>(); });
}

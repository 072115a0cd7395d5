// quantize (fast, the default, and thorough) and dequantize, one format at a time,
// on 64 Ki weights.
// Run: ./build/benchmarks/qnt_benchmarks [format name, e.g. "[q4_K]"]
#include <catch2/catch.hpp>

#include <cmath>
#include <qnt/qnt.hpp>
#include <string>
#include <vector>

namespace {

std::vector<float> bench_weights(size_t n) {
  std::vector<float> x(n);
  uint32_t s = 12345;
  for (auto& v : x) {  // a cheap bell-shaped sample: sum of four uniforms
    float acc = 0;
    for (int k = 0; k < 4; ++k) acc += float((s = s * 1664525u + 1013904223u) >> 8) * 0x1p-24f;
    v = (acc - 2.f) * 0.035f;
  }
  return x;
}

template <class F>
void bench_format() {
  constexpr size_t n = 1 << 16;
  const auto x = bench_weights(n);
  std::vector<typename F::block> b(n / F::block_size);
  std::vector<float> y(n);
  const std::string name(F::name);
  BENCHMARK("quantize " + name) { return qnt::quantize<F>(x.data(), b.data(), n); };
  BENCHMARK("quantize thorough " + name) {
    return qnt::quantize<F>(x.data(), b.data(), n, nullptr, qnt::effort::thorough);
  };
  BENCHMARK("dequantize " + name) {
    qnt::dequantize<F>(b.data(), y.data(), n);
    return y[n - 1];
  };
}

}  // namespace

TEST_CASE("quantize and dequantize, 64 Ki weights", "[quantize]") {
  qnt::all_formats::for_each([]<class F>() { bench_format<F>(); });
}

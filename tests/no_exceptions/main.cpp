// Built with -fno-exceptions -fno-rtti: the whole library compiles and works without
// them, as an embedding application may require.
#include <qnt/qnt.hpp>

#include <cstdio>

int main() {
  float x[256], y[256];
  for (int i = 0; i < 256; ++i) x[i] = float((i * 29) % 31 - 15) * 0.01f;
  int failures = 0;
  qnt::all_formats::for_each([&]<class F>() {
    typename F::block b[256 / F::block_size > 0 ? 256 / F::block_size : 1];
    if constexpr (256 % F::block_size == 0) {
      if (qnt::quantize<F>(x, b, 256) != qnt::status::ok || qnt::dequantize<F>(b, y, 256) != qnt::status::ok) {
        std::printf("%s failed\n", F::name.data());
        ++failures;
      }
    }
  });
  std::printf("no-exceptions build: %d failures\n", failures);
  return failures == 0 ? 0 : 1;
}

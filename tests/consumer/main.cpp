// Round-trips one q4_k block through an installed qnt; exit 0 when the relative
// RMS error of the reconstruction is below 0.2.
#include <qnt/qnt.hpp>

#include <cmath>
#include <cstdio>

int main() {
  constexpr int n = 256;
  float x[n];
  float y[n];
  for (int i = 0; i < n; ++i) x[i] = 0.02f * std::sin(0.37f * float(i)) + 0.001f * float(i % 7);

  qnt::q4_k::block blocks[1] = {};
  if (qnt::quantize<qnt::q4_k>(x, blocks, n) != qnt::status::ok) {
    std::puts("consumer: quantize did not return ok");
    return 1;
  }
  if (qnt::dequantize<qnt::q4_k>(blocks, y, n) != qnt::status::ok) {
    std::puts("consumer: dequantize did not return ok");
    return 1;
  }

  double err = 0, ref = 0;
  for (int i = 0; i < n; ++i) {
    const double d = double(x[i]) - double(y[i]);
    err += d * d;
    ref += double(x[i]) * double(x[i]);
  }
  const double rel = std::sqrt(err / ref);
  std::printf("consumer: q4_k relative RMS error %.4f\n", rel);
  return rel < 0.2 ? 0 : 1;
}

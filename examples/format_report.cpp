// format-report: what each qnt format costs and gives on this machine, with the
// scalar reference code: bits per weight, size of a 7B-parameter model, relative
// RMS error on Gaussian and heavy-tailed (Student-t, 3 degrees of freedom)
// synthetic weights, and single-thread quantize / dequantize throughput.
//
//   format-report [weights per format, default 1048576]
#include <qnt/qnt.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

// Deterministic normal and Student-t samples (splitmix64 + Box-Muller).
struct sampler {
  uint64_t s;
  double uniform() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
  }
  double gauss() { return std::sqrt(-2 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()); }
  double student_t3() {
    double chi2 = 0;
    for (int k = 0; k < 3; ++k) {
      const double g = gauss();
      chi2 += g * g;
    }
    return gauss() / std::sqrt(chi2 / 3) / std::sqrt(3.0);
  }
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]), s += double(x[i]) * x[i];
  return std::sqrt(e / s);
}

template <class F>
void report(const std::vector<float>& gauss, const std::vector<float>& heavy) {
  const size_t n = gauss.size();
  std::vector<typename F::block> blocks(n / F::block_size);
  std::vector<float> y(n);

  auto t0 = std::chrono::steady_clock::now();
  const qnt::status st = qnt::quantize<F>(gauss.data(), blocks.data(), n);
  const double tq = seconds_since(t0);
  if (st != qnt::status::ok) std::fprintf(stderr, "%s: quantize returned %s\n", F::name.data(), qnt::to_string(st));

  int reps = 0;
  t0 = std::chrono::steady_clock::now();
  do qnt::dequantize<F>(blocks.data(), y.data(), n), ++reps;
  while (seconds_since(t0) < 0.2);
  const double td = seconds_since(t0) / reps;
  const double err_gauss = rel_rmse(gauss, y);

  qnt::quantize<F>(heavy.data(), blocks.data(), n);
  qnt::dequantize<F>(blocks.data(), y.data(), n);
  const double err_heavy = rel_rmse(heavy, y);

  const double bpw = qnt::bits_per_weight<F>;
  std::printf("%-16s %7.4f %9.2f %10.5f %10.5f %11.2f %11.3f\n", std::string(F::name).c_str(), bpw, 7e9 * bpw / 8 / 1e9,
              err_gauss, err_heavy, n / tq / 1e6, n / td / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : (size_t(1) << 20);
  n = (n + 4095) / 4096 * 4096;
  if (n == 0) n = 4096;
  sampler r{2026};
  std::vector<float> gauss(n), heavy(n);
  for (auto& v : gauss) v = float(0.02 * r.gauss());
  for (auto& v : heavy) v = float(0.02 * r.student_t3());

  std::printf("qnt format report: %zu weights per format, scalar reference code, one thread\n\n", n);
  std::printf("%-16s %7s %9s %10s %10s %11s %11s\n", "format", "bits/w", "7B (GB)", "rmse N", "rmse t3", "quant Mw/s",
              "deq Gw/s");
  qnt::all_formats::for_each([&]<class F>() { report<F>(gauss, heavy); });
  qnt::format_list<qnt::symmetric<8, 128, qnt::bf16>, qnt::symmetric<4, 128, qnt::bf16>, qnt::affine<4, 128, qnt::bf16>,
                   qnt::basic_nf4<128, qnt::f16>>::for_each([&]<class F>() { report<F>(gauss, heavy); });
  return 0;
}

// The quantizers: the scale walk is exhaustive, the quality table meets its goals,
// quantize_rows is quantize row by row (whatever the threads) and checks its input.
#include <doctest/doctest.h>

#include <qnt/qnt.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "../tools/quality.hpp"
#include "test_formats.hpp"
#include "test_util.hpp"

namespace {

using qnt_quality::dist;

// Weighted squared error removed by the least-squares scale of the nearest levels
// at inverse scale s (the quantity the walk maximises), in double.
double symmetric_gain(const std::vector<float>& x, const qnt::fit::level_set& L, double s) {
  double sxv = 0, svv = 0;
  for (const float v : x) {
    const double l = L.value(L.nearest(float(s * v)));
    sxv += v * l, svv += l * l;
  }
  return svv > 0 ? sxv * sxv / svv : 0;
}

// Error removed by the best (d, m) of the codes of (x - lo) * s rounded to 0..nmax.
double affine_gain(const std::vector<float>& x, int nmax, float lo, double s) {
  double sw = 0, sx = 0, sq = 0, sqq = 0, sxq = 0;
  for (const float v : x) {
    const double q = qnt::clamp(qnt::rne(float(s * (v - lo))), 0, nmax);
    sw += 1, sx += v, sq += q, sqq += q * q, sxq += v * q;
  }
  const double det = sw * sqq - sq * sq;
  if (!(det > 0)) return 0;
  const double d = (sw * sxq - sx * sq) / det, m = (sqq * sx - sq * sxq) / det;
  if (m > 0) return sqq > 0 ? sxq * sxq / sqq : 0;  // the k-quants' min <= 0
  return d > 0 ? sx * sx / sw + (sw * sxq - sx * sq) * (sw * sxq - sx * sq) / (sw * det) : 0;
}

}  // namespace

TEST_CASE("quantizers: the scale walk finds the best of a dense grid of scales") {
  using qnt::fit::level_set;
  const level_set sets[] = {level_set::integers(-4, 3), level_set::integers(-8, 7), level_set::integers(-32, 31),
                            {qnt::detail::kv_nl_f, 16}};
  qnt_test::rng r(7);
  for (int trial = 0; trial < 40; ++trial) {
    const int n = trial % 2 ? 32 : 16;
    std::vector<float> x(static_cast<size_t>(n)), w(static_cast<size_t>(n), 1.f);
    for (auto& v : x) v = float(trial % 4 < 2 ? r.gauss() : r.laplace());
    float amax = 0;
    for (const float v : x) amax = std::max(amax, std::fabs(v));
    for (const auto& L : sets) {
      const float end = std::max(std::fabs(L.value(0)), std::fabs(L.value(L.count - 1)));
      const float s_lo = 0.6f * end / amax, s_hi = 1.4f * end / amax;
      const auto walk = qnt::fit::walk_symmetric<32, 4096>(x.data(), w.data(), n, L, s_lo, s_hi);
      REQUIRE(walk.found);
      double grid = 0;
      for (int k = 1; k < 20000; ++k) grid = std::max(grid, symmetric_gain(x, L, s_lo + (s_hi - s_lo) * k / 20000.0));
      CHECK(walk.gain >= grid * (1 - 1e-5));
      // The scale it reports is the least-squares scale of its assignment.
      CHECK(walk.gain == doctest::Approx(symmetric_gain(x, L, walk.s)).epsilon(1e-4));
    }
    for (const int nmax : {3, 15, 31}) {
      float lo = 0, hi = x[0];
      for (const float v : x) lo = std::min(lo, v), hi = std::max(hi, v);
      const float s_lo = 0.5f * nmax / (hi - lo), s_hi = 1.5f * nmax / (hi - lo);
      const auto walk = qnt::fit::walk_affine<32, 4096>(x.data(), w.data(), n, nmax, lo, s_lo, s_hi, true);
      REQUIRE(walk.found);
      double grid = 0;
      for (int k = 1; k < 20000; ++k) grid = std::max(grid, affine_gain(x, nmax, lo, s_lo + (s_hi - s_lo) * k / 20000.0));
      CHECK(walk.gain >= grid * (1 - 1e-5));
    }
  }
}

// The affine thorough search decides its super-scales on each sub-block's model,
// the error of the fit's codes held fixed: for any scale and min, codes rounded to
// the nearest for them must do at least as well as the model says.
TEST_CASE("quantizers: the affine sub-block model bounds the error of re-rounded codes") {
  qnt_test::rng r(11);
  for (int block = 0; block < 5; ++block) {  // 40 sub-blocks of 32, fitted eight at a time
    std::vector<float> xb(256), wb(256);
    float lo[8] = {}, hi[8] = {}, suu[8] = {};
    for (int j = 0; j < 8; ++j) {
      const int trial = 8 * block + j;
      float* x = xb.data() + 32 * j;
      for (int i = 0; i < 32; ++i) x[i] = float(trial % 2 ? r.gauss() : r.laplace()) + (trial % 4 < 2 ? 0.f : 0.5f);
      for (int i = 0; i < 32; ++i) wb[32 * j + i] = float(0.5 + std::fabs(r.gauss()));
      qnt::kq::range_of<32>(x, lo[j], hi[j]);
      for (int i = 0; i < 32; ++i) suu[j] += wb[32 * j + i] * (x[i] - lo[j]) * (x[i] - lo[j]);
    }
    qnt::kq::affine_sub fits[8];
    qnt::kq::fit_affine_subs_grid<qnt::kq::scalar_ops, 32, qnt::kq::thorough_grid>(xb.data(), wb.data(), 15, lo, hi, suu,
                                                                                   fits);
    for (int j = 0; j < 8; ++j) {
      const float *x = xb.data() + 32 * j, *w = wb.data() + 32 * j;
      const auto& fit = fits[j];
      REQUIRE(fit.scale > 0);
      CHECK(fit.neg_min >= 0);
      double sxx = 0;
      for (int i = 0; i < 32; ++i) sxx += w[i] * double(x[i]) * x[i];
      CHECK(fit.sums.w == doctest::Approx(std::accumulate(w, w + 32, 0.0)));
      for (const double f : {0.9, 0.97, 1.0, 1.03, 1.1}) {
        const double dl = fit.scale * f, ml = fit.neg_min * (2 - f);
        double rounded = 0;
        for (int i = 0; i < 32; ++i) {
          const double q = std::clamp(std::nearbyint((x[i] + ml) / dl), 0.0, 15.0);
          rounded += w[i] * std::pow(x[i] - (dl * q - ml), 2);
        }
        const double model = sxx + fit.sums.model(float(dl), float(ml));
        CHECK(model >= -1e-5 * sxx);
        CHECK(rounded <= model + 1e-5 * sxx);
      }
    }
  }
}

#ifdef NDEBUG
constexpr bool kOptimizedBuild = true;
#else
constexpr bool kOptimizedBuild = false;
#endif

// The goals of the table printed by qnt-bench, on its 64 x 4096 tensors. Unoptimized
// (sanitizer) builds and runs under emulation (QNT_TEST_EMULATED, set by
// tools/cross-test) leave it out: it measures numbers, which the byte hashes below
// show to be the same everywhere, and takes minutes there.
const bool kSkipQualityTable = !kOptimizedBuild || std::getenv("QNT_TEST_EMULATED") != nullptr;

// The thorough search meets the table's goals; the fast one (the default) is no
// worse than GGUF's reference quantizer.
TEST_CASE("quantizers: lower error than GGUF's reference quantizers on synthetic weights" *
          doctest::skip(kSkipQualityTable)) {
  constexpr size_t n = qnt_quality::kRows * qnt_quality::kCols;
  for (const dist d : qnt_synthetic::all_dists) {
    const auto x = qnt_quality::synthetic(d);
    qnt::all_formats::for_each([&]<class F>() {
      const auto* ref = qnt_quality::find_reference(F::name, d);
      if (!ref) return;
      for (const qnt::effort how : {qnt::effort::fast, qnt::effort::thorough}) {
        std::vector<typename F::block> b(n / F::block_size);
        std::vector<float> y(n);
        REQUIRE(qnt::quantize_rows<F>(x.data(), b.data(), qnt_quality::kRows, qnt_quality::kCols, nullptr,
                                      {.threads = qnt_test::threads(0)}, how) == qnt::status::ok);
        REQUIRE(qnt::dequantize<F>(b.data(), y.data(), n) == qnt::status::ok);
        const double e = qnt_quality::rel_rmse(x.data(), y.data(), n);
        const std::string effort = how == qnt::effort::fast ? "fast" : "thorough";
        CAPTURE(std::string(F::name));
        CAPTURE(std::string(qnt_quality::kDistNames[int(d)]));
        CAPTURE(effort);
        MESSAGE(F::name, " ", qnt_quality::kDistNames[int(d)], " ", effort, ": ", e, " (reference ", ref->plain,
                ", goal ", qnt_quality::goal(*ref), ")");
        if (how == qnt::effort::fast) CHECK(e <= ref->plain);
        // q4_0 on Laplace weights: the walk reaches each block's optimal scale, and
        // that is 4.6% below the reference, not 5% (see README); 3% holds.
        else if (F::name == "q4_0" && d == dist::laplace) CHECK(e < 0.97 * ref->plain);
        else CHECK(e < qnt_quality::goal(*ref));
      }
    });
  }
}

TEST_CASE("quantize_rows: equals quantize row by row, on any number of threads") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    constexpr size_t B = F::block_size;
    const size_t rows = 7, cols = 3 * B, n = rows * cols;
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, n, 31);
    std::vector<float> imp(cols), imp_full(n);
    for (size_t c = 0; c < cols; ++c) imp[c] = c % 3 == 0 ? 20.f : 0.5f;
    for (size_t i = 0; i < n; ++i) imp_full[i] = imp[i % cols];
    for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
      for (const float* importance : {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
        std::vector<typename F::block> expect(n / B);
        REQUIRE(qnt::quantize<F>(x.data(), expect.data(), n, importance ? imp_full.data() : nullptr, how) ==
                qnt::status::ok);
        for (const unsigned t : {1u, 2u, 0u}) {
          std::vector<typename F::block> got(n / B);
          REQUIRE(qnt::quantize_rows<F>(x.data(), got.data(), rows, cols, importance, {.threads = qnt_test::threads(t)},
                                        how) == qnt::status::ok);
          CHECK(std::memcmp(got.data(), expect.data(), got.size() * sizeof(typename F::block)) == 0);
        }
        // An engine's own parallel-for (here: tasks in reverse order).
        const qnt::exec own{.parallel_for =
                                [](void*, size_t count, void (*task)(void*, size_t), void* ctx) {
                                  for (size_t i = count; i-- > 0;) task(ctx, i);
                                }};
        std::vector<typename F::block> got(n / B);
        REQUIRE(qnt::quantize_rows<F>(x.data(), got.data(), rows, cols, importance, own, how) == qnt::status::ok);
        CHECK(std::memcmp(got.data(), expect.data(), got.size() * sizeof(typename F::block)) == 0);
      }
    }
  });
}

TEST_CASE("quantize_rows: bad input is reported and nothing is written") {
  using F = qnt::q4_k;
  const size_t rows = 3, cols = 512, n = rows * cols;
  const auto x = qnt_test::weights(qnt_test::dist::gaussian, n, 5);
  std::vector<F::block> y(n / 256);
  std::memset(y.data(), 0xA5, y.size() * sizeof(F::block));
  const auto untouched = y;
  auto unchanged = [&] { return std::memcmp(y.data(), untouched.data(), y.size() * sizeof(F::block)) == 0; };
  CHECK(qnt::quantize_rows<F>(x.data(), y.data(), rows, 300) == qnt::status::invalid_size);
  CHECK(qnt::quantize_rows<F>(x.data(), y.data(), SIZE_MAX / 256, 512) == qnt::status::invalid_size);
  CHECK(qnt::quantize_rows<F>(nullptr, y.data(), rows, cols) == qnt::status::null_pointer);
  CHECK(qnt::quantize_rows<F>(x.data(), nullptr, rows, cols) == qnt::status::null_pointer);
  CHECK(qnt::quantize_rows<F>(nullptr, nullptr, 0, cols) == qnt::status::ok);
  CHECK(qnt::quantize_rows<F>(nullptr, nullptr, rows, 0) == qnt::status::ok);
  for (const float bad : {-1.f, NAN, INFINITY}) {
    std::vector<float> imp(cols, 1.f);
    imp[cols - 1] = bad;
    CHECK(qnt::quantize_rows<F>(x.data(), y.data(), rows, cols, imp.data()) == qnt::status::invalid_importance);
  }
  CHECK(unchanged());
  // A data condition in one row is reported; every row is still written.
  auto z = x;
  z[2 * cols + 5] = NAN;
  CHECK(qnt::quantize_rows<F>(z.data(), y.data(), rows, cols, nullptr, {.threads = qnt_test::threads(2)}) ==
        qnt::status::non_finite_input);
  CHECK(!unchanged());
}

TEST_CASE("quantize_rows: column importance lowers the importance-weighted error") {
  // As an importance matrix: a few input channels carry most of the activation energy.
  qnt_test::for_each_format([]<class F>() {
    if constexpr (!qnt_test::is_activation_type<F>) {
      CAPTURE(std::string(F::name));
      const size_t rows = 8, cols = 4 * F::block_size, n = rows * cols;
      const auto x = qnt_test::weights(qnt_test::dist::laplace, n, 77);
      std::vector<float> imp(cols);
      for (size_t c = 0; c < cols; ++c) imp[c] = c % 8 == 3 ? 100.f : 1.f;
      for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
        const std::string effort_name = how == qnt::effort::fast ? "fast" : "thorough";
        CAPTURE(effort_name);
        std::vector<typename F::block> plain(n / F::block_size), weighted(n / F::block_size);
        const qnt::exec e{.threads = qnt_test::threads(0)};
        REQUIRE(qnt::quantize_rows<F>(x.data(), plain.data(), rows, cols, nullptr, e, how) == qnt::status::ok);
        REQUIRE(qnt::quantize_rows<F>(x.data(), weighted.data(), rows, cols, imp.data(), e, how) == qnt::status::ok);
        std::vector<float> yp(n), yw(n);
        REQUIRE(qnt::dequantize<F>(plain.data(), yp.data(), n) == qnt::status::ok);
        REQUIRE(qnt::dequantize<F>(weighted.data(), yw.data(), n) == qnt::status::ok);
        double ep = 0, ew = 0;
        for (size_t i = 0; i < n; ++i) {
          const double w = imp[i % cols];
          ep += w * (x[i] - yp[i]) * (x[i] - yp[i]), ew += w * (x[i] - yw[i]) * (x[i] - yw[i]);
        }
        CHECK(ew < ep);
      }
    }
  });
}

namespace {

// FNV-1a of the bytes every format's quantizer writes for a fixed input: Gaussian,
// Laplace, Student-t and outlier rows, with and without importance.
template <class F>
uint64_t quantized_bytes_hash(qnt::effort how) {
  constexpr size_t B = F::block_size;
  const size_t cols = B >= 256 ? B : 256, rows = 4, n = rows * cols;
  std::vector<float> x;
  for (const auto d : qnt_synthetic::all_dists) {
    const auto part = qnt_synthetic::weights(d, cols, 1000 + uint64_t(d));
    x.insert(x.end(), part.begin(), part.end());
  }
  std::vector<float> imp(cols);
  for (size_t c = 0; c < cols; ++c) imp[c] = float(1 + (c * 7) % 5);
  std::vector<typename F::block> b(2 * n / B);
  const qnt::exec e{.threads = qnt_test::threads(0)};
  qnt::quantize_rows<F>(x.data(), b.data(), rows, cols, nullptr, e, how);
  qnt::quantize_rows<F>(x.data(), b.data() + n / B, rows, cols, imp.data(), e, how);
  uint64_t h = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const unsigned char*>(b.data());
  for (size_t i = 0; i < b.size() * sizeof(typename F::block); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace

// The quantizers are plain scalar code with a fixed order of operations (no
// contraction into FMA, no reassociation), so every machine and compiler writes the
// same bytes. The hashes below were recorded on x86-64; the cross-built suite checks
// them on AArch64 and RISC-V. A deliberate change to a quantizer updates them (the
// failure message prints the new value).
TEST_CASE("quantizers: the same bytes on every machine") {
  struct expected {
    std::string_view name;
    uint64_t hash;
  };
  static constexpr expected kHashes[] = {
#include "quantizer_hashes.inc"
  };
  qnt_test::for_each_format([]<class F>() {
    for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
      // Thorough hashes are keyed by the format's name, fast ones by "name fast".
      const std::string key = std::string(F::name) + (how == qnt::effort::fast ? " fast" : "");
      const uint64_t h = quantized_bytes_hash<F>(how);
      bool known = false;
      for (const auto& e : kHashes)
        if (e.name == key) {
          known = true;
          CAPTURE(key);
          CHECK_MESSAGE(h == e.hash, "new hash: {\"", key, "\", ", h, "ull},");
        }
      if (!known) MESSAGE("no recorded hash for ", key, ": {\"", key, "\", ", h, "ull},");
      CHECK(known);
    }
  });
}

TEST_CASE("quantizers: mxfp4's codes are the first nearest of the 16 E2M1 values at the stored exponent") {
  // The definition, a scan of the codes in order; the quantizers find it as the nearest
  // magnitude with the sign of x (scalar) or by counting midpoints (SIMD). Blocks of
  // Gaussian weights, of weights on the midpoints between E2M1 values (ties) and just
  // below or above them, over scales from subnormal to 2^120.
  const auto first_nearest = [](float x, float d) {
    int best = 0;
    for (int k = 1; k < 16; ++k)
      if (std::fabs(float(qnt::detail::kv_fp4[k]) * d - x) < std::fabs(float(qnt::detail::kv_fp4[best]) * d - x)) best = k;
    return best;
  };
  const float mids[] = {0.5f, 1.5f, 2.5f, 3.5f, 5.f, 7.f, 10.f};
  qnt_test::rng r(11);
  const size_t blocks = 512;
  std::vector<float> x(32 * blocks);
  for (size_t b = 0; b < blocks; ++b) {
    const float scale = std::ldexp(1.f, r.below(270) - 149);
    for (size_t i = 0; i < 32; ++i) {
      float v = float(r.gauss()) * scale;
      const float mid = std::ldexp(mids[r.below(7)], r.below(3) - 1) * scale;
      if (b % 4 == 1) v = mid;
      if (b % 4 == 2) v = std::nextafter(mid, 0.f);
      if (b % 4 == 3) v = std::nextafter(mid, 1e30f);
      x[32 * b + i] = r.below(2) ? -v : v;
    }
  }
  std::vector<qnt::mxfp4::block> simd(blocks), scalar(blocks);
  REQUIRE(qnt::quantize<qnt::mxfp4>(x.data(), simd.data(), x.size()) == qnt::status::ok);
  for (size_t b = 0; b < blocks; ++b) REQUIRE(qnt::quantize_block<qnt::mxfp4>(x.data() + 32 * b, scalar[b]) == qnt::status::ok);
  CHECK(std::memcmp(simd.data(), scalar.data(), blocks * sizeof(qnt::mxfp4::block)) == 0);
  size_t wrong = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const float d = qnt::e8m0_half_to_f32(scalar[b].e);
    for (size_t i = 0; i < 32; ++i)
      wrong += size_t(int(qnt::mxfp4::planes::get(nullptr, scalar[b].qs, i)) != first_nearest(x[32 * b + i], d));
  }
  CHECK(wrong == 0);
}

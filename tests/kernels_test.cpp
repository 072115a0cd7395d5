// The SIMD kernels on every target this binary was compiled for (Highway's
// SupportedAndGeneratedTargets): dequantize equals the scalar reference bit for bit;
// matvec and matmul match a double-precision product of the reference weights.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "test_formats.hpp"  // qnt first: it asks Highway for the AVX3_DL target
#include "test_util.hpp"
#include "hwy/targets.h"

namespace {

using qnt_test::threads;

// Runs fn() once per compiled and supported target, with dispatch forced to it.
template <class Fn>
void for_each_target(Fn&& fn) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  REQUIRE(!targets.empty());
  std::string names;
  for (const int64_t t : targets) {
    hwy::SetSupportedTargetsForTest(t);
    CAPTURE(std::string(hwy::TargetName(t)));
    REQUIRE(std::string(qnt::active_target()) == hwy::TargetName(t));
    names += std::string(" ") + hwy::TargetName(t);
    fn();
  }
  hwy::SetSupportedTargetsForTest(0);
  MESSAGE("targets run:", names);
}

// Blocks of a format, from quantized weights of mixed magnitude.
template <class F>
std::vector<typename F::block> make_blocks(size_t count, uint64_t seed) {
  auto x = qnt_test::weights(qnt_test::dist::student_t3, count * F::block_size, seed);
  for (size_t i = 0; i < x.size(); ++i) x[i] *= float(1 + (i / F::block_size) % 7);
  std::vector<typename F::block> b(count);
  REQUIRE(qnt::quantize<F>(x.data(), b.data(), x.size()) == qnt::status::ok);
  return b;
}

template <class F>
void check_dequantize() {
  CAPTURE(std::string(F::name));
  constexpr size_t blocks = 37;
  auto b = make_blocks<F>(blocks, 3);
  // Some blocks of random bytes too (any finite scale, any codes); a byte pattern
  // whose scale is NaN or Inf still has to give the same bits, NaN payloads aside.
  qnt_test::rng r(17);
  for (size_t k = 0; k < 5; ++k)
    for (size_t i = 0; i < sizeof(typename F::block); ++i) reinterpret_cast<uint8_t*>(&b[3 * k])[i] = uint8_t(r.next());
  std::vector<float> ref(blocks * F::block_size), got(ref.size() + 1, -7.f);
  for (size_t k = 0; k < blocks; ++k) qnt::dequantize_block<F>(b[k], ref.data() + k * F::block_size);
  // Unaligned output on purpose.
  REQUIRE(qnt::dequantize<F>(b.data(), got.data() + 1, ref.size()) == qnt::status::ok);
  size_t differ = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    differ += !(qnt_test::same_bits(ref[i], got[i + 1]) || (std::isnan(ref[i]) && std::isnan(got[i + 1])));
  CHECK(differ == 0);
  CHECK(got[0] == -7.f);
}

template <class F>
constexpr bool block_step = std::is_same_v<F, qnt::q2_k> || std::is_same_v<F, qnt::q3_k> ||
                            std::is_same_v<F, qnt::q4_k> || std::is_same_v<F, qnt::q5_k> ||
                            std::is_same_v<F, qnt::q6_k> || std::is_same_v<F, qnt::iq4_xs>;

// y = x * W^T in double from the reference dequantization; the tolerance scales
// with |W_r| |x_i| as float accumulation error does.
template <class F>
void check_matmul(size_t rows, size_t cols, size_t n, const qnt::exec& e, bool unaligned) {
  CAPTURE(rows);
  CAPTURE(cols);
  CAPTURE(n);
  CAPTURE(e.threads);
  CAPTURE(unaligned);
  const auto b = make_blocks<F>(rows * cols / F::block_size, rows * 131 + cols);
  // Blocks have alignment 1: place them at an odd address when asked.
  std::vector<uint8_t> bytes(b.size() * sizeof(typename F::block) + 1);
  std::memcpy(bytes.data() + unaligned, b.data(), b.size() * sizeof(typename F::block));
  const auto* w = reinterpret_cast<const typename F::block*>(bytes.data() + unaligned);
  std::vector<float> wd(rows * cols);
  for (size_t k = 0; k < b.size(); ++k) qnt::dequantize_block<F>(b[k], wd.data() + k * F::block_size);
  std::vector<float> x(n * cols + 1), y(n * rows + 1, 12345.f);
  const auto xs = qnt_test::weights(qnt_test::dist::gaussian, n * cols, n + 7, 1.f);
  std::copy(xs.begin(), xs.end(), x.begin() + unaligned);
  const float* xp = x.data() + unaligned;
  float* yp = y.data() + unaligned;
  if (n == 1) REQUIRE(qnt::matvec<F>(w, rows, cols, xp, yp, e) == qnt::status::ok);
  else REQUIRE(qnt::matmul<F>(w, rows, cols, xp, n, yp, e) == qnt::status::ok);
  // Integer formats quantize x to int8 per group of 32 with step s_g = max|x_g| / 127:
  // each element moves by at most s_g / 2, so the result by at most
  // sum_g s_g / 2 * sum_{c in g} |W_rc|; 2e-5 of |W_r| |x| on top covers the f32
  // scaling and summing of the exact unit sums. The float path (nf4) sums in f32:
  // within 2e-6 of |W_r| |x_i|. The matvec of the k-quants and iq4_xs takes one step per block
  // where their blocks' products add up in int32 (q2_K to q6_K and iq4_xs on AVX3_DL
  // and AVX2): the bound of groups of 256, which is no smaller than that of 32,
  // holds for every target. nf4's matvec multiplies int16
  // forms where its blocks hold a multiple of 64 weights (AVX2, AVX-512): table values within
  // 2^-15 of the block's scale, x to int16 per 64 columns with step max|x_g| / 32767.
  constexpr bool int8 = qnt::HWY_NAMESPACE::Codec<F>::kInteger;
  const bool words = !int8 && n == 1 && F::block_size % 64 == 0;
  const size_t group = words ? 64 : n < 4 && block_step<F> ? 256 : 32;
  const double levels = words ? 32767 : 127;
  double worst = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t r = 0; r < rows; ++r) {
      double exact = 0, wn = 0, xn = 0, quantization = 0;
      for (size_t g = 0; g < cols; g += group) {
        double amax = 0, wsum = 0;
        for (size_t c = g; c < cols && c < g + group; ++c) {
          const double wv = wd[r * cols + c], xv = xp[i * cols + c];
          exact += wv * xv, wn += wv * wv, xn += xv * xv;
          amax = std::max(amax, std::fabs(xv)), wsum += std::fabs(wv);
          if constexpr (!int8)
            if (words) quantization += std::fabs(xv * double(b[(r * cols + c) / F::block_size].absmax.get())) / 32768;
        }
        quantization += amax / levels / 2 * wsum;
      }
      const double norm = std::sqrt(wn * xn) + 1e-30;
      const double bound = int8 || words ? quantization + 2e-5 * norm : 2e-6 * norm;
      worst = std::max(worst, std::fabs(yp[i * rows + r] - exact) / bound);
    }
  CHECK(worst <= 1);
  if (unaligned) CHECK(y[0] == 12345.f);
}

}  // namespace

TEST_CASE("kernels: SIMD dequantize equals the scalar reference bit for bit, on every target") {
  for_each_target([] { qnt_test::for_each_format([]<class F>() { check_dequantize<F>(); }); });
}

// The SIMD quantizers (fast, and thorough where its passes run in SIMD) write the
// scalar reference's bytes (detail::encode_block, compiled once for the baseline)
// on every target: blocks of every distribution, with and without importance,
// all-zero and constant blocks, and blocks that need cleaning (NaN, Inf, beyond
// max_magnitude), from an unaligned pointer.
template <class F>
void check_quantize_fast() {
  constexpr size_t B = F::block_size;
  std::vector<float> x;
  for (const auto d : qnt_synthetic::all_dists) {
    auto part = qnt_test::weights(d, 6 * B, 300 + uint64_t(d));
    for (size_t i = 0; i < part.size(); ++i) part[i] *= std::ldexp(1.f, int(i / B) * 9 - 20);  // 2^-20 .. 2^25
    x.insert(x.end(), part.begin(), part.end());
  }
  const size_t special = x.size();
  x.resize(x.size() + 4 * B, 0.f);                             // an all-zero block
  for (size_t i = 0; i < B; ++i) x[special + B + i] = -0.375f;  // a constant block
  x[special + 2 * B + 3] = NAN, x[special + 2 * B + 5] = -INFINITY;
  x[special + 3 * B + 1] = 1e38f;
  // Blocks whose first or last half is zero (signed zeros among them) and whose
  // other half has its largest magnitude twice, with either sign first in every
  // 16 weights: the ties of the signed maxima and zero sub-blocks in a block.
  const size_t edges = x.size();
  const auto fill = qnt_test::weights(qnt_test::dist::gaussian, 2 * B, 77);
  x.insert(x.end(), fill.begin(), fill.end());
  for (size_t b = 0; b < 2; ++b)
    for (size_t i = 0; i < B; ++i) {
      float& v = x[edges + b * B + i];
      if ((i < B / 2) == (b == 0)) {
        v = i % 2 ? -0.f : 0.f;
      } else if (i % 16 == 3 || i % 16 == 9) {
        v = (i % 16 == 3) == ((i / 16) % 2 == 0) ? 0.25f : -0.25f;
      }
    }
  const size_t n = x.size();
  std::vector<float> imp(n), xu(n + 1);
  for (size_t i = 0; i < n; ++i) imp[i] = float(1 + (i * 13) % 7), xu[i + 1] = x[i];
  for (const auto how : {qnt::effort::fast, qnt::effort::thorough})
    for (const float* w : {static_cast<const float*>(nullptr), static_cast<const float*>(imp.data())}) {
      CAPTURE(how == qnt::effort::fast ? "fast" : "thorough");
      std::vector<typename F::block> expect(n / B), got(n / B);
      for (size_t b = 0; b < n / B; ++b)
        qnt::detail::encode_block<F>(x.data() + b * B, w ? w + b * B : qnt::detail::ones<B>.w, expect[b], how);
      qnt::quantize<F>(xu.data() + 1, got.data(), n, w, how);
      CHECK(std::memcmp(got.data(), expect.data(), got.size() * sizeof(typename F::block)) == 0);
    }
}

TEST_CASE("kernels: SIMD quantizers equal the scalar reference bit for bit, on every target") {
  for_each_target([] {
    qnt_test::for_each_format([]<class F>() {
      CAPTURE(std::string(F::name));
      if constexpr (qnt::detail::has_simd_quantizer<F>) check_quantize_fast<F>();
    });
  });
}

TEST_CASE("kernels: matvec and matmul match a double-precision product, on every target") {
  for_each_target([] {
    qnt_test::for_each_format([]<class F>() {
      CAPTURE(std::string(F::name));
      constexpr size_t B = F::block_size;
      // Wider than one decode chunk, and than runs of sixteen blocks (one left partial).
      const size_t wide = B >= 256 ? 21 * B : 40 * B;
      check_matmul<F>(13, B, 1, {.threads = 1}, false);       // one block per row
      check_matmul<F>(7, wide, 1, {.threads = threads(2)}, true);      // rows not a multiple of 4
      // More than one matvec pass; for nf4, rows longer than those regrouped x serves.
      static_assert(qnt::HWY_NAMESPACE::kIntChunk<qnt::nf4> + 3 * 64 > qnt::HWY_NAMESPACE::kRegroupedColumns);
      check_matmul<F>(3, qnt::HWY_NAMESPACE::kIntChunk<F> + 3 * B, 1, {.threads = 1}, true);
      check_matmul<F>(4, 3 * B, 5, {.threads = threads(0)}, false);
      for (size_t n = 2; n <= 17; n += 5) check_matmul<F>(9, 2 * B, n, {.threads = 1}, n % 2 == 1);
    });
  });
}

TEST_CASE("kernels: large n and many rows, with qnt's pool") {
  for_each_target([] {
    check_matmul<qnt::q4_k>(33, 512, 512, {.threads = threads(0)}, false);
    check_matmul<qnt::q8_0>(64, 1024, 17, {.threads = threads(2)}, true);
    // More activations than one quantized block of them, rows past a whole tile;
    // units of 16 with a bias, offsets, signed table codes.
    check_matmul<qnt::q6_k>(40, 512, 131, {.threads = threads(2)}, true);
    check_matmul<qnt::q4_1>(37, 288, 130, {.threads = 1}, false);
    check_matmul<qnt::iq4_nl>(35, 320, 4, {.threads = 1}, true);
  });
}

// One matmul of n activation rows and n matvecs of them, one thread: y[i * rows + r]
// from each, so that tests hold both paths to the same expectations.
template <class F>
std::pair<std::vector<float>, std::vector<float>> both_products(const std::vector<typename F::block>& b, size_t rows,
                                                                size_t cols, const std::vector<float>& x, size_t n) {
  std::vector<float> y(n * rows), y1(n * rows);
  REQUIRE(qnt::matmul<F>(b.data(), rows, cols, x.data(), n, y.data(), {.threads = 1}) == qnt::status::ok);
  for (size_t i = 0; i < n; ++i)
    REQUIRE(qnt::matvec<F>(b.data(), rows, cols, x.data() + i * cols, y1.data() + i * rows, {.threads = 1}) ==
            qnt::status::ok);
  return {std::move(y), std::move(y1)};
}

// Activations at the edges of f32, through one matmul and n matvecs (both_products):
// - a NaN or an infinity in one activation row makes every output of that row NaN
//   (nf4's f32 paths: NaN or +-Inf); the other rows stay finite;
// - activation groups whose largest magnitude is below 2^-100 multiply as zeros
//   where x is quantized (the reciprocal of their step would overflow f32 below
//   about 4e-37); the f32 paths keep their tiny products. Every output stays finite
//   and within sum |W| |x| (plus the subnormal roundings of the f32 products); among
//   ordinary groups such groups give the same bits as zeros there.
// 1024 columns or more: x is quantized in batches of groups where vectors allow
// (QuantizeBatches), and a batch with a NaN or an infinity goes one group at a time.
template <class F>
void check_edge_activations() {
  CAPTURE(std::string(F::name));
  constexpr size_t rows = 37, cols = (1024 + F::block_size - 1) / F::block_size * F::block_size, n = 6;
  static_assert(cols % 96 % 32 == 0, "whole activation groups of 32 below");
  constexpr bool int8 = qnt::HWY_NAMESPACE::Codec<F>::kInteger;
  const auto b = make_blocks<F>(rows * cols / F::block_size, 11);
  {
    auto x = qnt_test::weights(qnt_test::dist::gaussian, n * cols, 12, 1.f);
    x[1 * cols + cols / 2 + 5] = NAN;
    x[3 * cols + cols - 1] = INFINITY;
    x[4 * cols] = -INFINITY;
    const auto [y, y1] = both_products<F>(b, rows, cols, x, n);
    for (size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      const bool bad = i == 1 || i == 3 || i == 4;
      for (size_t r = 0; r < rows; ++r) {
        const float v = y[i * rows + r], v1 = y1[i * rows + r];
        if (!bad) CHECK((std::isfinite(v) && std::isfinite(v1)));
        else if (int8) CHECK((std::isnan(v) && std::isnan(v1)));
        else CHECK((!std::isfinite(v) && !std::isfinite(v1)));
      }
    }
  }
  if constexpr (int8) {
    auto x = qnt_test::weights(qnt_test::dist::gaussian, n * cols, 15, 1.f);
    auto zeros = x;
    for (size_t c = 0; c < n * cols; c += 96)  // every third group of 32
      for (size_t k = 0; k < 32; ++k) x[c + k] *= 1e-33f, zeros[c + k] = 0.f;
    const auto [y, y1] = both_products<F>(b, rows, cols, x, n);
    const auto [z, z1] = both_products<F>(b, rows, cols, zeros, n);
    CHECK(y == z);
    CHECK(y1 == z1);
  }
  std::vector<float> wd(rows * cols);
  for (size_t k = 0; k < b.size(); ++k) qnt::dequantize_block<F>(b[k], wd.data() + k * F::block_size);
  for (const float scale : {1e-33f, 1e-38f}) {
    CAPTURE(scale);
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, n * cols, 14, scale);
    const auto [y, y1] = both_products<F>(b, rows, cols, x, n);
    for (size_t i = 0; i < n; ++i) {
      CAPTURE(i);
      for (size_t r = 0; r < rows; ++r) {
        double bound = cols * 1e-44;
        for (size_t c = 0; c < cols; ++c) bound += std::fabs(double(wd[r * cols + c]) * x[i * cols + c]) * (1 + 1e-3);
        const float v = y[i * rows + r], v1 = y1[i * rows + r];
        CHECK((std::isfinite(v) && std::isfinite(v1) && std::fabs(v) <= bound && std::fabs(v1) <= bound));
        if (int8) CHECK((v == 0 && v1 == 0));
      }
    }
  }
}

// Below the tile's four activation rows, integer formats meet each weight row with
// every activation row in one pass (kVecActs at a time): the same operations, in the
// same order, as one matvec per activation row, so the same bits. Rows longer than
// one pass; outputs that start as NaN (every one must be written); 70 rows on two
// threads, so that tasks start past row 0; n = 4 and 5 on the scalar target, which
// takes every n in passes.
TEST_CASE("kernels: a matmul of fewer than four activation rows equals their matvecs bit for bit, on every target") {
  for_each_target([] {
    qnt_test::for_each_format([]<class F>() {
      if constexpr (qnt::HWY_NAMESPACE::Codec<F>::kInteger) {
        CAPTURE(std::string(F::name));
        const bool scalar = std::string(qnt::active_target()) == hwy::TargetName(HWY_SCALAR);
        const auto check = [&](size_t rows, size_t cols, const qnt::exec& e) {
          CAPTURE(rows);
          CAPTURE(cols);
          const auto b = make_blocks<F>(rows * cols / F::block_size, 21 + rows);
          for (size_t n = 2; n <= (scalar ? 5 : 3); ++n) {
            CAPTURE(n);
            const auto x = qnt_test::weights(qnt_test::dist::gaussian, n * cols, 22 + n, 1.f);
            std::vector<float> y(n * rows, NAN), y1(n * rows, NAN);
            REQUIRE(qnt::matmul<F>(b.data(), rows, cols, x.data(), n, y.data(), e) == qnt::status::ok);
            for (size_t i = 0; i < n; ++i)
              REQUIRE(qnt::matvec<F>(b.data(), rows, cols, x.data() + i * cols, y1.data() + i * rows, {.threads = 1}) ==
                      qnt::status::ok);
            CHECK(std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }));
            CHECK(std::memcmp(y.data(), y1.data(), y.size() * sizeof(float)) == 0);
          }
        };
        check(6, qnt::HWY_NAMESPACE::kIntChunk<F> + 2 * F::block_size, {.threads = 1});
        check(70, 3 * F::block_size, {.threads = threads(2)});
      }
    });
  });
}

TEST_CASE("kernels: NaN or infinite activations make their row NaN and those below 2^-100 count as zeros where x is quantized, on every target") {
  for_each_target([] { qnt_test::for_each_format([]<class F>() { check_edge_activations<F>(); }); });
}

// The activations' quantization in batches of groups (QuantizeBatches, rows of the
// tile in one call) against one group after another, bit for bit, with zero, tiny
// (below 2^-100), huge, infinite and NaN groups among ordinary ones. The static
// target only: NEON, SVE or RVV in the cross builds; x86's default flags give
// SCALAR, which has no batches (the products above go through every target).
template <size_t U>
void check_batched_quantization(const std::vector<float>& x, size_t rows, size_t len, size_t x_stride) {
  CAPTURE(U);
  CAPTURE(rows);
  CAPTURE(len);
  namespace N = qnt::HWY_NAMESPACE;
  const size_t units = (len + U - 1) / U, q_stride = len + 8, u_stride = units + 3;
  std::vector<int8_t> q(rows * q_stride, 5), q1(q);
  std::vector<float> s(rows * u_stride, 5.f), s1(s), f(s), f1(s);
  std::vector<int32_t> i(rows * u_stride, 5), i1(i);
  N::QuantizeX<U, true, true>(x.data(), len, q.data(), s.data(), i.data(), f.data(), rows, x_stride, q_stride, u_stride);
  // One group per call: too few for a batch.
  constexpr size_t G = N::kXGroup;
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < len; c += G) {
      const size_t u = r * u_stride + c / U;
      N::QuantizeX<U, true, true>(x.data() + r * x_stride + c, len - c < G ? len - c : G, q1.data() + r * q_stride + c,
                                  s1.data() + u, i1.data() + u, f1.data() + u);
    }
  CHECK(q == q1);
  CHECK(std::memcmp(s.data(), s1.data(), s.size() * sizeof(float)) == 0);  // NaN steps too
  CHECK(i == i1);
  CHECK(std::memcmp(f.data(), f1.data(), f.size() * sizeof(float)) == 0);
}

TEST_CASE("kernels: activations quantized in batches of groups equal one group after another") {
  const size_t x_stride = 4096 + 64, rows = 9;
  auto x = qnt_test::weights(qnt_test::dist::gaussian, rows * x_stride, 21, 1.f);
  for (size_t k = 0; k < 32; ++k) {
    x[64 + k] = 0.f, x[128 + k] *= 1e-31f, x[x_stride + 1024 + k] *= 1e30f, x[3 * x_stride + 96 + k] = 3e-39f;
  }
  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    check_batched_quantization<32>(x, rows, 256, x_stride);
    check_batched_quantization<16>(x, rows, 256, x_stride);
    check_batched_quantization<32>(x, 5, 512, x_stride);
    check_batched_quantization<32>(x, 1, 4096, 0);
    check_batched_quantization<16>(x, 2, 4096, x_stride);
    check_batched_quantization<8>(x, 3, 4096 + 24, x_stride);
    if (round == 0) x[2 * x_stride + 100] = INFINITY;
    if (round == 1) x[5 * x_stride + 7] = NAN, x[20] = -INFINITY;
  }
}

TEST_CASE("kernels: an engine's own parallel-for runs every task") {
  std::atomic<size_t> calls{0}, tasks{0};
  qnt::exec e;
  e.threads = 3;
  e.pool = &calls;
  e.parallel_for = [](void* pool, size_t count, void (*task)(void*, size_t), void* ctx) {
    ++*static_cast<std::atomic<size_t>*>(pool);
    for (size_t i = count; i-- > 0;) task(ctx, i);  // any order
  };
  const auto b = make_blocks<qnt::q4_0>(64 * 4, 5);
  std::vector<float> x(128, 0.5f), y(64), ref(64);
  REQUIRE(qnt::matvec<qnt::q4_0>(b.data(), 64, 128, x.data(), y.data(), e) == qnt::status::ok);
  REQUIRE(qnt::matvec<qnt::q4_0>(b.data(), 64, 128, x.data(), ref.data(), {.threads = 1}) == qnt::status::ok);
  CHECK(calls == 1);
  CHECK(y == ref);  // same row partition arithmetic: same bits
  (void)tasks;
}

TEST_CASE("kernels: bad arguments") {
  const auto b = make_blocks<qnt::q4_0>(4, 6);
  std::vector<float> x(64, 1.f), y(4, 7.f);
  CHECK(qnt::matvec<qnt::q4_0>(b.data(), 2, 63, x.data(), y.data()) == qnt::status::invalid_size);
  CHECK(qnt::matmul<qnt::q4_0>(b.data(), 2, 64, x.data(), 1, nullptr) == qnt::status::null_pointer);
  CHECK(qnt::matmul<qnt::q4_0>(nullptr, 2, 64, x.data(), 1, y.data()) == qnt::status::null_pointer);
  CHECK(qnt::matmul<qnt::q4_0>(b.data(), 2, 64, nullptr, 1, y.data()) == qnt::status::null_pointer);
  for (const float v : y) CHECK(v == 7.f);
  CHECK(qnt::matmul<qnt::q4_0>(nullptr, 0, 64, nullptr, 1, nullptr) == qnt::status::ok);  // nothing to do
  CHECK(qnt::matmul<qnt::q4_0>(nullptr, 2, 0, nullptr, 2, y.data()) == qnt::status::ok);  // empty rows: zeros
  for (const float v : y) CHECK(v == 0.f);
}

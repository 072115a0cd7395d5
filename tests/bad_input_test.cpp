// Malformed input gets a defined, documented result: an error status with the
// output untouched, or a documented clamp reported through the status.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "test_formats.hpp"
#include "test_util.hpp"

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kMax = std::numeric_limits<float>::max();

template <class F>
std::vector<typename F::block> sentinel_blocks(size_t count) {
  std::vector<typename F::block> b(count);
  std::memset(b.data(), 0xA5, count * sizeof(typename F::block));
  return b;
}

template <class F>
bool untouched(const std::vector<typename F::block>& b) {
  for (size_t i = 0; i < b.size() * sizeof(typename F::block); ++i)
    if (reinterpret_cast<const uint8_t*>(b.data())[i] != 0xA5) return false;
  return true;
}

template <class F>
std::vector<float> decode(const std::vector<typename F::block>& b) {
  std::vector<float> y(b.size() * F::block_size);
  qnt::dequantize<F>(b.data(), y.data(), y.size());
  return y;
}

}  // namespace

TEST_CASE("bad input: n not a multiple of the block size is invalid_size, nothing written") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    constexpr size_t B = F::block_size;
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, 2 * B, 1);
    auto b = sentinel_blocks<F>(2);
    for (const size_t n : {size_t(1), B - 1, B + 1, 2 * B - 3}) {
      CHECK(qnt::quantize<F>(x.data(), b.data(), n) == qnt::status::invalid_size);
      CHECK(untouched<F>(b));
      std::vector<float> y(2 * B, 7.f);
      CHECK(qnt::dequantize<F>(b.data(), y.data(), n) == qnt::status::invalid_size);
      for (const float v : y) CHECK(v == 7.f);
    }
  });
}

TEST_CASE("bad input: null pointers are null_pointer, nothing written; n = 0 is a no-op") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    constexpr size_t B = F::block_size;
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, B, 2);
    auto b = sentinel_blocks<F>(1);
    std::vector<float> y(B, 7.f);
    CHECK(qnt::quantize<F>(nullptr, b.data(), B) == qnt::status::null_pointer);
    CHECK(untouched<F>(b));
    CHECK(qnt::quantize<F>(x.data(), nullptr, B) == qnt::status::null_pointer);
    CHECK(qnt::dequantize<F>(nullptr, y.data(), B) == qnt::status::null_pointer);
    CHECK(qnt::dequantize<F>(b.data(), nullptr, B) == qnt::status::null_pointer);
    CHECK(qnt::quantize_block<F>(nullptr, b[0]) == qnt::status::null_pointer);
    CHECK(untouched<F>(b));
    CHECK(qnt::quantize<F>(nullptr, nullptr, 0) == qnt::status::ok);
    CHECK(qnt::dequantize<F>(nullptr, nullptr, 0) == qnt::status::ok);
  });
}

TEST_CASE("bad input: negative, NaN or infinite importance is invalid_importance, nothing written") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    constexpr size_t B = F::block_size;
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, 3 * B, 3);
    for (const float bad : {-1.f, -0.f - 1e-30f, kNaN, kInf}) {
      std::vector<float> imp(3 * B, 1.f);
      imp[2 * B + 5] = bad;  // in the last block: the check happens before any block is written
      auto b = sentinel_blocks<F>(3);
      CHECK(qnt::quantize<F>(x.data(), b.data(), 3 * B, imp.data()) == qnt::status::invalid_importance);
      CHECK(untouched<F>(b));
      CHECK(qnt::quantize_block<F>(x.data() + 2 * B, b[2], imp.data() + 2 * B) == qnt::status::invalid_importance);
      CHECK(untouched<F>(b));
    }
    // Zero importance is valid: the weight may take any value.
    std::vector<float> zero(3 * B, 0.f);
    auto b = sentinel_blocks<F>(3);
    CHECK(qnt::quantize<F>(x.data(), b.data(), 3 * B, zero.data()) == qnt::status::ok);
    for (const float v : decode<F>(b)) CHECK(std::isfinite(v));
  });
}

TEST_CASE("bad input: NaN weights encode as 0 and +-Inf as +-FLT_MAX, reported as non_finite_input") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    constexpr size_t B = F::block_size;
    const auto x = qnt_test::weights(qnt_test::dist::gaussian, 3 * B, 4);
    std::vector<float> bad(x), same(x);
    bad[3] = kNaN, same[3] = 0.f;
    bad[B + 7] = kInf, same[B + 7] = kMax;
    bad[2 * B + 1] = -kInf, same[2 * B + 1] = -kMax;
    auto b1 = sentinel_blocks<F>(3), b2 = sentinel_blocks<F>(3);
    CHECK(qnt::quantize<F>(bad.data(), b1.data(), 3 * B) == qnt::status::non_finite_input);
    const qnt::status st = qnt::quantize<F>(same.data(), b2.data(), 3 * B);
    CHECK((st == qnt::status::ok || st == qnt::status::scale_clamped));
    CHECK(std::memcmp(b1.data(), b2.data(), 3 * sizeof(typename F::block)) == 0);
    const auto y = decode<F>(b1);
    for (const float v : y) CHECK(std::isfinite(v));
    CHECK(std::fabs(y[3]) <= 0.1f);  // NaN -> 0: near zero on the block's grid
    CHECK(y[B + 7] > 0);             // +Inf saturates positive
    CHECK(y[2 * B + 1] < 0);         // -Inf saturates negative
  });
}

TEST_CASE("bad input: magnitudes beyond the scale type's range clamp the scale, reported as scale_clamped") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    for (const float magnitude : {1e9f, 1e30f, kMax}) {
      CAPTURE(magnitude);
      const auto x = qnt_test::weights(qnt_test::dist::laplace, 4 * F::block_size, 5, magnitude / 8);
      std::vector<typename F::block> b(4);
      const qnt::status st = qnt::quantize<F>(x.data(), b.data(), x.size());
      const auto y = decode<F>(b);
      for (const float v : y) REQUIRE(std::isfinite(v));
      if (st == qnt::status::ok) {
        // The scale type holds it (bf16, f32, E8M0): ordinary quality.
        CHECK(qnt_test::rel_rmse(x.data(), y.data(), x.size()) < 0.5);
      } else {
        CHECK(st == qnt::status::scale_clamped);
        // Saturation: never beyond the input's range, signs of large weights kept.
        float xmax = 0, ymax = 0;
        for (size_t i = 0; i < x.size(); ++i) xmax = std::max(xmax, std::fabs(x[i])), ymax = std::max(ymax, std::fabs(y[i]));
        CHECK(ymax <= xmax);
        for (size_t i = 0; i < x.size(); ++i)
          if (std::fabs(x[i]) > xmax / 2 && y[i] != 0) CHECK(std::signbit(y[i]) == std::signbit(x[i]));
      }
    }
  });
}

TEST_CASE("bad input: q8_0 beyond f16 range saturates at 65504 * 127") {
  std::vector<float> x(32);
  for (size_t i = 0; i < 32; ++i) x[i] = (i % 2 ? -1e8f : 1e8f) * (1 + float(i) / 64);
  qnt::q8_0::block b[1] = {};
  CHECK(qnt::quantize<qnt::q8_0>(x.data(), b, 32) == qnt::status::scale_clamped);
  float y[32];
  qnt::dequantize<qnt::q8_0>(b, y, 32);
  for (size_t i = 0; i < 32; ++i) CHECK(y[i] == (i % 2 ? -65504.f * 127 : 65504.f * 127));
}

TEST_CASE("bad input: stored NaN / Inf scales decode as GGUF does (propagate), neighbours unaffected") {
  std::vector<float> x(64, 0.25f);
  qnt::q4_0::block b[2] = {};
  REQUIRE(qnt::quantize<qnt::q4_0>(x.data(), b, 64) == qnt::status::ok);
  b[0].d.bits.set(0x7E00);  // NaN
  float y[64];
  CHECK(qnt::dequantize<qnt::q4_0>(b, y, 64) == qnt::status::ok);
  for (int i = 0; i < 32; ++i) CHECK(std::isnan(y[i]));
  for (int i = 32; i < 64; ++i) CHECK(y[i] == 0.25f);
  b[0].d.bits.set(0x7C00);  // +Inf: Inf times a non-zero code, NaN times code 0 (code 8 here)
  qnt::dequantize<qnt::q4_0>(b, y, 64);
  for (int i = 0; i < 32; ++i) CHECK(!std::isfinite(y[i]));
}

TEST_CASE("bad input: NF4 planar conversion checks pointers and pads partial blocks") {
  using F = qnt::nf4;
  uint8_t codes[40] = {};
  float absmax[2] = {1.f, 2.f};
  F::block blocks[2] = {};
  CHECK(qnt::nf4_from_planar<F>(nullptr, absmax, 70, blocks) == qnt::status::null_pointer);
  CHECK(qnt::nf4_from_planar<F>(codes, nullptr, 70, blocks) == qnt::status::null_pointer);
  CHECK(qnt::nf4_to_planar<F>(nullptr, 70, codes, absmax) == qnt::status::null_pointer);
  CHECK(qnt::nf4_from_planar<F>(nullptr, nullptr, 0, nullptr) == qnt::status::ok);
}

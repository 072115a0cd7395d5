// Every format's per-block reference is usable in constant expressions: these
// static_asserts quantize and dequantize whole blocks at compile time.
#include <doctest/doctest.h>

#include <qnt/qnt.hpp>

#include "test_formats.hpp"

namespace {

// A deterministic, non-trivial block: a skewed saw-tooth with one larger value.
template <class F>
constexpr float sample(size_t i) {
  const float v = float(int((i * 37 + 11) % 23) - 11) * 0.013f + (i % 5 == 0 ? 0.004f : 0.f);
  return i == 7 ? 0.5f : v;
}

// Quantize, dequantize and return the relative RMS error, all at compile time.
template <class F>
constexpr float roundtrip_error() {
  float x[F::block_size] = {}, y[F::block_size] = {};
  for (size_t i = 0; i < F::block_size; ++i) x[i] = sample<F>(i);
  typename F::block b{};
  if (qnt::quantize_block<F>(x, b) != qnt::status::ok) return 1e9f;
  qnt::dequantize_block<F>(b, y);
  float e = 0, s = 0;
  for (size_t i = 0; i < F::block_size; ++i) e += (x[i] - y[i]) * (x[i] - y[i]), s += x[i] * x[i];
  return qnt::sqrt(e / s);
}

// Bounds about 1.3x what each format gives on this block (one value 4x the rest).
static_assert(roundtrip_error<qnt::q4_0>() < 0.17f);
static_assert(roundtrip_error<qnt::q4_1>() < 0.13f);
static_assert(roundtrip_error<qnt::q5_0>() < 0.09f);
static_assert(roundtrip_error<qnt::q5_1>() < 0.06f);
static_assert(roundtrip_error<qnt::q8_0>() < 0.012f);
static_assert(roundtrip_error<qnt::q8_1>() < 0.012f);
static_assert(roundtrip_error<qnt::q2_k>() < 0.35f);
static_assert(roundtrip_error<qnt::q3_k>() < 0.19f);
static_assert(roundtrip_error<qnt::q4_k>() < 0.095f);
static_assert(roundtrip_error<qnt::q5_k>() < 0.045f);
static_assert(roundtrip_error<qnt::q6_k>() < 0.024f);
static_assert(roundtrip_error<qnt::q8_k>() < 0.016f);
static_assert(roundtrip_error<qnt::iq4_nl>() < 0.14f);
static_assert(roundtrip_error<qnt::iq4_xs>() < 0.1f);
static_assert(roundtrip_error<qnt::mxfp4>() < 0.17f);
static_assert(roundtrip_error<qnt::nf4>() < 0.15f);
static_assert(roundtrip_error<qnt::symmetric<8, 128, qnt::bf16>>() < 0.015f);
static_assert(roundtrip_error<qnt::symmetric<4, 64, qnt::f32>>() < 0.21f);
static_assert(roundtrip_error<qnt::affine<4, 128, qnt::bf16>>() < 0.16f);
static_assert(roundtrip_error<qnt::affine<8, 16, qnt::f16>>() < 0.005f);
static_assert(roundtrip_error<qnt::basic_nf4<128, qnt::f16>>() < 0.165f);

// Scalar conversions at compile time.
static_assert(qnt::f16_to_f32(0x3C00) == 1.f && qnt::f16_to_f32(0xC000) == -2.f);
static_assert(qnt::f16_to_f32(0x0001) == 0x1p-24f && qnt::f16_to_f32(0x03FF) == 1023 * 0x1p-24f);
static_assert(qnt::f32_to_f16(0x1p-25f) == 0 && qnt::f32_to_f16(0x1.8p-25f) == 1);  // tie to even, above tie
static_assert(qnt::f32_to_f16(1.f + 0x1p-11f) == 0x3C00 && qnt::f32_to_f16(1.f + 0x1.8p-11f) == 0x3C01);
static_assert(qnt::bf16_to_f32(qnt::f32_to_bf16(3.140625f)) == 3.140625f);
static_assert(qnt::f32_to_bf16(1.f + 0x1p-8f) == 0x3F80 && qnt::f32_to_bf16(1.f + 0x1.8p-8f) == 0x3F81);
static_assert(qnt::e8m0_to_f32(127) == 1.f && qnt::e8m0_half_to_f32(127) == 0.5f && qnt::e8m0_half_to_f32(0) == 0x1p-128f);

// A block written at compile time decodes at compile time to GGUF's values.
constexpr bool q4_0_literal_block() {
  qnt::q4_0::block b{};
  b.d.set(-0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(j | (15 - j) << 4);
  float y[32] = {};
  qnt::dequantize_block<qnt::q4_0>(b, y);
  // element j: (j - 8) * -0.5; element j + 16: (7 - j) * -0.5; code 8 gives -0.0
  return y[0] == 4.f && y[15] == -3.5f && y[16] == -3.5f && y[31] == 4.f && qnt::float_bits(y[8]) == 0x80000000u;
}
static_assert(q4_0_literal_block());

}  // namespace

TEST_CASE("constexpr: compile-time round trips agree with run-time ones") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(F::name);
    float x[F::block_size], y[F::block_size], z[F::block_size];
    for (size_t i = 0; i < F::block_size; ++i) x[i] = sample<F>(i);
    typename F::block b{};
    REQUIRE(qnt::quantize_block<F>(x, b) == qnt::status::ok);
    qnt::dequantize_block<F>(b, y);
    // The same computation forced into a constant expression.
    constexpr auto cb = [] {
      float cx[F::block_size] = {};
      for (size_t i = 0; i < F::block_size; ++i) cx[i] = sample<F>(i);
      typename F::block out{};
      qnt::quantize_block<F>(cx, out);
      return out;
    }();
    qnt::dequantize_block<F>(cb, z);
    for (size_t i = 0; i < F::block_size; ++i) CHECK(qnt::float_bits(y[i]) == qnt::float_bits(z[i]));
  });
}

// The public entry points every format shares: whole-tensor quantize / dequantize
// and their per-block, constexpr forms. Argument checking and the treatment of
// non-finite input live here, once, so each format's encoder sees clean data.
#pragma once

#include <concepts>
#include <cstddef>
#include <limits>
#include <string_view>
#include <type_traits>

#include "scalar.hpp"
#include "status.hpp"

namespace qnt {

// What a format tag provides. `encode` receives finite weights and finite,
// non-negative importance (never null); `decode` is the format's specification.
template <class F>
concept block_format = requires(const typename F::block& cb, typename F::block& b, const float* x, float* y) {
  { F::block_size } -> std::convertible_to<size_t>;
  { F::name } -> std::convertible_to<std::string_view>;
  { F::max_magnitude } -> std::convertible_to<float>;
  { F::decode(cb, y) };
  { F::encode(x, x, b) } -> std::same_as<status>;
} && std::is_trivially_copyable_v<typename F::block>;

template <block_format F>
inline constexpr double bits_per_weight = double(sizeof(typename F::block)) * 8.0 / double(F::block_size);

constexpr bool valid_importance(float v) { return v >= 0 && is_finite(v); }

// Largest |weight| a format represents with either sign. Larger weights are clamped
// to it before encoding (status::scale_clamped), so a saturated block is still the
// best block for the clamped data. Capped at 2^126, so that no f32 or bf16 scale
// ever needs to exceed the float range.
template <block_format F>
inline constexpr float max_magnitude = min(float(F::max_magnitude), 0x1p126f);

// Quantizes one block of F::block_size weights. NaN weights are encoded as 0 and
// +-Inf as +-FLT_MAX (reported as status::non_finite_input); then weights beyond
// max_magnitude<F> are clamped to it (status::scale_clamped). The importance, when
// given, must be finite and non-negative, else nothing is written.
template <block_format F>
constexpr status quantize_block(const float* x, typename F::block& y, const float* importance = nullptr) {
  constexpr size_t B = F::block_size;
  if (!x) return status::null_pointer;
  float xs[B], w[B];
  for (size_t i = 0; i < B; ++i) {
    w[i] = importance ? importance[i] : 1.f;
    if (!valid_importance(w[i])) return status::invalid_importance;
  }
  status st = status::ok;
  for (size_t i = 0; i < B; ++i) {
    float v = x[i];
    if (!is_finite(v)) {
      st = status::non_finite_input;
      v = is_nan(v) ? 0.f : copy_sign(std::numeric_limits<float>::max(), v);
    }
    if (abs(v) > max_magnitude<F>) {
      st = worst(st, status::scale_clamped);
      v = copy_sign(max_magnitude<F>, v);
    }
    xs[i] = v;
  }
  return worst(st, F::encode(xs, w, y));
}

// Decodes one block: the format's scalar reference, bit-exact with GGUF.
template <block_format F>
constexpr void dequantize_block(const typename F::block& x, float* y) {
  F::decode(x, y);
}

// Quantizes n weights (a multiple of F::block_size) into n / F::block_size blocks.
// `importance` (optional, n entries) weighs each weight's squared error.
template <block_format F>
constexpr status quantize(const float* x, typename F::block* y, size_t n, const float* importance = nullptr) {
  constexpr size_t B = F::block_size;
  if (n % B != 0) return status::invalid_size;
  if (n == 0) return status::ok;
  if (!x || !y) return status::null_pointer;
  if (importance)
    for (size_t i = 0; i < n; ++i)
      if (!valid_importance(importance[i])) return status::invalid_importance;
  status st = status::ok;
  for (size_t b = 0; b < n / B; ++b)
    st = worst(st, quantize_block<F>(x + b * B, y[b], importance ? importance + b * B : nullptr));
  return st;
}

namespace detail {
// The SIMD path of dequantize, with run-time dispatch (defined in kernels/dispatch.hpp,
// which every public header includes).
template <block_format F>
void dequantize_blocks(const typename F::block* x, float* y, size_t blocks);
}  // namespace detail

// Dequantizes n weights (a multiple of F::block_size). Decoding is a pure function
// of the bytes: a block whose stored scale is Inf or NaN decodes to Inf/NaN exactly
// as GGUF does; nothing is clamped.
template <block_format F>
constexpr status dequantize(const typename F::block* x, float* y, size_t n) {
  constexpr size_t B = F::block_size;
  if (n % B != 0) return status::invalid_size;
  if (n == 0) return status::ok;
  if (!x || !y) return status::null_pointer;
  if (std::is_constant_evaluated()) {
    for (size_t b = 0; b < n / B; ++b) F::decode(x[b], y + b * B);
  } else {
    detail::dequantize_blocks<F>(x, y, n / B);
  }
  return status::ok;
}

}  // namespace qnt

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

// How hard a quantizer searches for the block of least error. Both are exact
// functions of the input: the same bytes on every CPU, target and thread count.
enum class effort : uint8_t {
  // The reference quantizer's own scale (from the block's extreme weights), refined
  // by weighted least squares on its codes; each candidate is kept only if its
  // error is lower. No worse than GGUF's reference quantizers, and many times faster.
  fast,
  // Exhaustive walks over every scale at which a code changes (q3_K: the best of four
  // candidate scales, which loses 0.1% to the walk at twelve times its speed), and
  // for the k-quants a joint search of the integer sub-block scales and the
  // super-scales: for files made once and used often.
  thorough,
};

// What a format tag provides. `encode` receives finite weights and finite,
// non-negative importance (never null); `decode` is the format's specification.
template <class F>
concept block_format = requires(const typename F::block& cb, typename F::block& b, const float* x, float* y) {
  { F::block_size } -> std::convertible_to<size_t>;
  { F::name } -> std::convertible_to<std::string_view>;
  { F::max_magnitude } -> std::convertible_to<float>;
  { F::decode(cb, y) };
  { F::encode(x, x, b, effort::fast) } -> std::same_as<status>;
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

// All n importance weights valid? One branch-free pass.
constexpr bool valid_importance(const float* w, size_t n) {
  bool valid = true;
  for (size_t i = 0; i < n; ++i) valid &= valid_importance(w[i]);
  return valid;
}

namespace detail {
// Importance 1 for every weight, for calls without importance.
template <size_t B>
struct unit_importance {
  float w[B];
  constexpr unit_importance() : w() {
    for (size_t i = 0; i < B; ++i) w[i] = 1.f;
  }
};
template <size_t B>
inline constexpr unit_importance<B> ones{};

// Encodes one block of checked arguments (w: valid, never null). NaN weights are
// encoded as 0 and +-Inf as +-FLT_MAX (status::non_finite_input); then weights
// beyond max_magnitude<F> are clamped to it (status::scale_clamped).
template <block_format F>
constexpr status encode_block(const float* x, const float* w, typename F::block& y, effort e) {
  constexpr size_t B = F::block_size;
  // Most blocks need no cleaning: one branch-free pass finds out.
  bool clean = true;
  for (size_t i = 0; i < B; ++i) clean &= abs(x[i]) <= max_magnitude<F>;
  if (clean) return F::encode(x, w, y, e);
  float xs[B];
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
  return worst(st, F::encode(xs, w, y, e));
}

// Formats whose searches also have a SIMD form (F::simd_fast_quantizer: the fast
// search, and for the k-quants and iq4_xs the passes of the thorough one), which
// writes the same bytes on every target; defined in kernels/dispatch.hpp, which
// every public header includes.
template <class F>
concept has_simd_quantizer = requires { requires F::simd_fast_quantizer; };
template <block_format F>
status quantize_blocks(const float* x, const float* w, typename F::block* y, size_t blocks, effort e);

// `blocks` blocks by the scalar reference; `w` null means importance 1.
template <block_format F>
constexpr status encode_blocks_reference(const float* x, const float* w, typename F::block* y, size_t blocks,
                                         effort e) {
  constexpr size_t B = F::block_size;
  status st = status::ok;
  for (size_t b = 0; b < blocks; ++b) st = worst(st, encode_block<F>(x + b * B, w ? w + b * B : ones<B>.w, y[b], e));
  return st;
}

// n / F::block_size blocks, arguments checked; `w` null means importance 1.
template <block_format F>
constexpr status encode_blocks(const float* x, const float* w, typename F::block* y, size_t n, effort e) {
  if constexpr (has_simd_quantizer<F>)
    if (!std::is_constant_evaluated()) return quantize_blocks<F>(x, w, y, n / F::block_size, e);
  return encode_blocks_reference<F>(x, w, y, n / F::block_size, e);
}
}  // namespace detail

// Quantizes one block of F::block_size weights (non-finite and too large weights as
// in detail::encode_block). The importance, when given, must be finite and
// non-negative, else nothing is written.
template <block_format F>
constexpr status quantize_block(const float* x, typename F::block& y, const float* importance = nullptr,
                                effort e = effort::fast) {
  constexpr size_t B = F::block_size;
  if (!x) return status::null_pointer;
  if (importance && !valid_importance(importance, B)) return status::invalid_importance;
  return detail::encode_block<F>(x, importance ? importance : detail::ones<B>.w, y, e);
}

// Decodes one block: the format's scalar reference, bit-exact with GGUF.
template <block_format F>
constexpr void dequantize_block(const typename F::block& x, float* y) {
  F::decode(x, y);
}

// Quantizes n weights (a multiple of F::block_size) into n / F::block_size blocks.
// `importance` (optional, n entries) weighs each weight's squared error.
template <block_format F>
constexpr status quantize(const float* x, typename F::block* y, size_t n, const float* importance = nullptr,
                          effort e = effort::fast) {
  constexpr size_t B = F::block_size;
  if (n % B != 0) return status::invalid_size;
  if (n == 0) return status::ok;
  if (!x || !y) return status::null_pointer;
  if (importance && !valid_importance(importance, n)) return status::invalid_importance;
  return detail::encode_blocks<F>(x, importance, y, n, e);
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

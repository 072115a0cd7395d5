// mxfp4 (OCP microscaling FP4): 32 E2M1 values sharing one power-of-two exponent.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "code_planes.hpp"

namespace qnt {
namespace detail {

// E2M1 values doubled, so that they are integers; the scale is halved to match.
inline constexpr int8_t kv_fp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
// Their magnitudes, codes 0-7 (codes 8-15 are the same negated).
inline constexpr float kv_fp4_magnitudes[8] = {0, 1, 2, 3, 4, 6, 8, 12};

}  // namespace detail

struct mxfp4 {
  struct block {
    uint8_t e;       // E8M0 shared exponent
    uint8_t qs[16];  // E2M1 codes, GGUF 32-element nibble order
  };  // 17 bytes / 32 weights = 4.25 bits per weight
  static_assert(sizeof(block) == 17);
  using planes = detail::code_planes<4, 32>;
  static constexpr size_t block_size = 32;
  static constexpr std::string_view name = "mxfp4";
  static constexpr int gguf_type = 39;
  static constexpr float max_magnitude = 0x1p127f;  // 6 * 2^127 exceeds FLT_MAX: no bound of its own

  static constexpr void decode(const block& b, float* y) {
    const float d = e8m0_half_to_f32(b.e);
    for (size_t i = 0; i < 32; ++i) y[i] = float(detail::kv_fp4[planes::get(nullptr, b.qs, i)]) * d;
  }

  // Codes and the weighted squared error at exponent e: the nearest E2M1 value, the
  // first of equally near ones in code order (which is the nearest magnitude, the
  // smaller of two, with the sign of x: zero stays code 0).
  template <class Ops>
  static constexpr float pass(const float* x, const float* w, uint8_t e, float* level) {
    return Ops::template magnitude_pass<32>(x, w, detail::kv_fp4_magnitudes, 8, e8m0_half_to_f32(e), level);
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  // The standard exponent puts the largest magnitude in [4, 8) on the E2M1 axis
  // (floor(log2(amax)) - 2); one step down and one step up are tried as well.
  // Exponents stay within 0..254 (255 is E8M0's NaN). encode sees weights of at most
  // max_magnitude<mxfp4> = 2^126 (quantize clamps them first), so the standard
  // exponent is at most 251 and the step up 252, whose largest code, 12 * 2^124 =
  // 1.5 * 2^127, is finite: every encoded block decodes to finite values.
  template <class Ops = fit::scalar_passes>
  static constexpr status encode(const float* x, const float* w, block& b, effort) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = max(amax, abs(x[i]));
    uint8_t e = 0;
    float level[2][32] = {};  // the best exponent's codes (at) and the next candidate's
    int at = 0;
    if (amax > 0) {
      // floor(log2(amax)) from the exponent field; subnormals have exponent -127 here,
      // and -127 - 2 + 127 < 0 clamps to the smallest E8M0.
      const int log2_floor = int((float_bits(amax) >> 23) & 255) - 127;
      const int e0 = clamp(log2_floor - 2 + 127, 0, 254);
      e = uint8_t(e0);
      float best = pass<Ops>(x, w, e, level[at]);
      for (const int c : {e0 - 1, e0 + 1}) {
        if (c < 0 || c > 254) continue;
        const float err = pass<Ops>(x, w, uint8_t(c), level[1 - at]);
        if (err < best) best = err, e = uint8_t(c), at = 1 - at;
      }
    }
    b.e = e;
    int q[32];
    for (size_t i = 0; i < 32; ++i) q[i] = level[at][i] == 0 ? 0 : int(level[at][i]) + (x[i] < 0 ? 8 : 0);
    planes::set_all(nullptr, b.qs, q);
    return status::ok;
  }
};

}  // namespace qnt

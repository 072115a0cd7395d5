// mxfp4 (OCP microscaling FP4): 32 E2M1 values sharing one power-of-two exponent.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "code_planes.hpp"

namespace qnt {
namespace detail {

// E2M1 values doubled, so that they are integers; the scale is halved to match.
inline constexpr int8_t kv_fp4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

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

  // Nearest code, scanning 0..15 and keeping the first minimum (zero stays code 0).
  static constexpr int nearest(float x, float d) {
    int best = 0;
    float best_err = abs(float(detail::kv_fp4[0]) * d - x);
    for (int k = 1; k < 16; ++k) {
      const float err = abs(float(detail::kv_fp4[k]) * d - x);
      if (err < best_err) best = k, best_err = err;
    }
    return best;
  }

  static constexpr float error(const float* x, const float* w, uint8_t e) {
    const float d = e8m0_half_to_f32(e);
    float err = 0;
    for (size_t i = 0; i < 32; ++i) {
      const float r = x[i] - float(detail::kv_fp4[nearest(x[i], d)]) * d;
      err += w[i] * r * r;
    }
    return err;
  }

  // The standard exponent puts the largest magnitude in [4, 8) on the E2M1 axis
  // (floor(log2(amax)) - 2); one step down and one step up are tried as well. The
  // largest exponent used is 254, whose codes reach 12 * 2^126 ~ 2^129.6: a block
  // beyond FLT_MAX / 6 still saturates into a finite code.
  static constexpr status encode(const float* x, const float* w, block& b, effort) {
    float amax = 0;
    for (size_t i = 0; i < 32; ++i) amax = max(amax, abs(x[i]));
    uint8_t e = 0;
    if (amax > 0) {
      // floor(log2(amax)) from the exponent field; subnormals have exponent -127 here,
      // and -127 - 2 + 127 < 0 clamps to the smallest E8M0.
      const int log2_floor = int((float_bits(amax) >> 23) & 255) - 127;
      const int e0 = clamp(log2_floor - 2 + 127, 0, 254);
      e = uint8_t(e0);
      float best = error(x, w, e);
      for (const int c : {e0 - 1, e0 + 1}) {
        if (c < 0 || c > 254) continue;
        const float err = error(x, w, uint8_t(c));
        if (err < best) best = err, e = uint8_t(c);
      }
    }
    b.e = e;
    const float d = e8m0_half_to_f32(e);
    int q[32];
    for (size_t i = 0; i < 32; ++i) q[i] = nearest(x[i], d);
    planes::set_all(nullptr, b.qs, q);
    return status::ok;
  }
};

}  // namespace qnt

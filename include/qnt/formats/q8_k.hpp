// q8_K: GGUF's activation type for the k-quant dot products: int8 codes with an f32
// scale per 256, plus sums of every 16 codes.
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"

namespace qnt {

struct q8_k {
  struct block {
    f32 d;            // scale (f32, not f16)
    int8_t qs[256];   // codes
    le16 bsums[16];   // int16 sums of each 16 codes
  };  // 292 bytes / 256 weights = 9.125 bits per weight
  static_assert(sizeof(block) == 292);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q8_K";
  static constexpr int gguf_type = 15;
  static constexpr float max_magnitude = 0x1p126f;  // f32 scale: 1 / (-127 / x) * 127 stays finite

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (int e = 0; e < 256; ++e) y[e] = d * float(b.qs[e]);
  }

  // An activation type keeps GGUF's single-pass max-based rounding (and its exact
  // bytes): the scale takes the sign opposite to the largest-magnitude weight.
  static constexpr status encode(const float* x, const float*, block& b, effort) {
    const float m = fit::signed_max(x, 256);
    if (m == 0) {
      b.d.set(0.f);
      for (int e = 0; e < 256; ++e) b.qs[e] = 0;
      for (int j = 0; j < 16; ++j) b.bsums[j].set(0);
      return status::ok;
    }
    // -127 / m overflows only when |m| < 127 / FLT_MAX; such a block uses -FLT_MAX.
    const float iscale = -127.f / m;
    const float is = is_finite(iscale) ? iscale : copy_sign(std::numeric_limits<float>::max(), iscale);
    for (int e = 0; e < 256; ++e) b.qs[e] = int8_t(clamp(rne(is * x[e]), -128, 127));
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
      b.bsums[j].set(uint16_t(int16_t(sum)));
    }
    b.d.set(1.f / is);
    return status::ok;
  }
};

}  // namespace qnt

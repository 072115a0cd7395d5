// q4_K: 4-bit affine codes in 8 sub-blocks of 32, with 6-bit sub-block scales and
// mins against two f16 super-scales.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct q4_k {
  struct block {
    f16 d;               // super-scale of the scales
    f16 dmin;            // super-scale of the mins
    uint8_t scales[12];  // eight 6-bit scales and mins (kq::pack_scale_min)
    uint8_t qs[128];     // per 64 weights: 32 bytes, low nibbles first 32, high nibbles next 32
  };  // 144 bytes / 256 weights = 4.5 bits per weight
  static_assert(sizeof(block) == 144);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q4_K";
  static constexpr int gguf_type = 12;
  static constexpr float max_magnitude = 65504.f * 63;  // the mins: dmin * 63

  static constexpr int code(const block& b, int e) {
    const uint8_t byte = b.qs[32 * (e / 64) + e % 32];
    return e % 64 < 32 ? (byte & 15) : (byte >> 4);
  }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get(), dmin = b.dmin.get();
    for (int s = 0; s < 8; ++s) {
      uint8_t sc = 0, mn = 0;
      kq::unpack_scale_min(b.scales, s, sc, mn);
      const float d1 = d * float(sc), m1 = dmin * float(mn);
      for (int e = 32 * s; e < 32 * (s + 1); ++e) y[e] = d1 * float(code(b, e)) - m1;
    }
  }

  static constexpr status encode(const float* x, const float* w, block& b) {
    constexpr kq::affine_params params{32, 15, 63, -1.f, 0.1f, 20, false};
    const kq::affine_superblock r = kq::fit_affine_superblock(x, w, params);
    kq::pack_scale_min(r.sc, r.mn, b.scales);
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = uint8_t(r.L[64 * c + l] | r.L[64 * c + 32 + l] << 4);
    b.d.set(r.d);
    b.dmin.set(r.dmin);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

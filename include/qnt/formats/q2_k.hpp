// q2_K: 2-bit affine codes in 16 sub-blocks of 16, with 4-bit sub-block scales and
// mins against two f16 super-scales.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct q2_k {
  struct block {
    uint8_t scales[16];  // sub-block j: scale in the low nibble, min in the high nibble
    uint8_t qs[64];      // 2-bit codes, four 32-weight groups per byte plane
    f16 d;               // super-scale of the scales
    f16 dmin;            // super-scale of the mins
  };  // 84 bytes / 256 weights = 2.625 bits per weight
  static_assert(sizeof(block) == 84);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q2_K";
  static constexpr int gguf_type = 10;
  static constexpr float max_magnitude = 65504.f * 15;  // the mins: dmin * 15

  // Weight e sits in byte qs[32 * (e / 128) + e % 32] at bit 2 * ((e % 128) / 32).
  static constexpr int code(const block& b, int e) { return (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get(), dmin = b.dmin.get();
    for (int e = 0; e < 256; ++e) {
      const uint8_t sc = b.scales[e / 16];
      const float dl = d * float(sc & 15), ml = dmin * float(sc >> 4);
      y[e] = dl * float(code(b, e)) - ml;
    }
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    constexpr kq::affine_params params{16, 3, 15, true};
    const kq::affine_superblock r = kq::fit_affine_superblock<Ops>(x, w, params, e);
    for (int j = 0; j < 16; ++j) b.scales[j] = uint8_t(r.sc[j] | r.mn[j] << 4);
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* L = r.L + 128 * h + l;
        b.qs[32 * h + l] = uint8_t(L[0] | L[32] << 2 | L[64] << 4 | L[96] << 6);
      }
    b.d.set(r.d);
    b.dmin.set(r.dmin);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

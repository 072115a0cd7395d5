// q6_K: 6-bit symmetric codes in 16 sub-blocks of 16, with int8 sub-block scales
// against one f16 super-scale.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct q6_k {
  struct block {
    uint8_t ql[128];    // low four code bits
    uint8_t qh[64];     // high two code bits
    int8_t scales[16];  // sub-block scales
    f16 d;              // super-scale
  };  // 210 bytes / 256 weights = 6.5625 bits per weight
  static_assert(sizeof(block) == 210);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q6_K";
  static constexpr int gguf_type = 14;
  static constexpr float max_magnitude = 65504.f * 127 * 31;

  // Weight e = 128h + 32g + l: low nibble (g < 2) or high nibble (g >= 2) of
  // ql[64h + 32(g % 2) + l], high bits at 2g in qh[32h + l]. Codes -32..31.
  static constexpr int code(const block& b, int e) {
    const int h = e / 128, g = (e % 128) / 32, l = e % 32;
    const uint8_t lq = b.ql[64 * h + 32 * (g % 2) + l];
    const int low4 = g < 2 ? (lq & 15) : (lq >> 4);
    const int high2 = (b.qh[32 * h + l] >> (2 * g)) & 3;
    return (low4 | high2 << 4) - 32;
  }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (int e = 0; e < 256; ++e) y[e] = (d * float(b.scales[e / 16])) * float(code(b, e));
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;
  // Fast: four grid scales, the extreme weight onto 1.0 down to 0.91 times code -32;
  // thorough: the walk, then the joint search.
  static constexpr kq::symmetric_params fit{16, kq::q6_levels, -128, 127, {.scales = 4, .step = 0.03f, .first = 0},
                                            {.choices = 5, .rounds = kq::kRefits, .extras = true}};

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    const kq::symmetric_superblock r = kq::fit_symmetric_superblock<Ops, q6_k>(x, w, e);
    for (int j = 0; j < 16; ++j) b.scales[j] = r.sc[j];
    // r.L is code + 32. Per 128 weights: ql holds groups 0/1 in the low nibbles and
    // groups 2/3 in the high ones, qh the two high bits of all four groups.
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* L = r.L + 128 * h + l;
        b.ql[64 * h + l] = uint8_t((L[0] & 15) | (L[64] & 15) << 4);
        b.ql[64 * h + 32 + l] = uint8_t((L[32] & 15) | (L[96] & 15) << 4);
        b.qh[32 * h + l] = uint8_t((L[0] >> 4) | (L[32] >> 4) << 2 | (L[64] >> 4) << 4 | (L[96] >> 4) << 6);
      }
    b.d.set(r.d);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

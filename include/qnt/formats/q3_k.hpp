// q3_K: 3-bit symmetric codes in 16 sub-blocks of 16, with signed 6-bit sub-block
// scales against one f16 super-scale.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct q3_k {
  struct block {
    uint8_t hmask[32];   // third code bit: bit k of hmask[l] belongs to weight 32k + l
    uint8_t qs[64];      // low two code bits, q2_K's byte planes
    uint8_t scales[12];  // sixteen 6-bit scales (+32)
    f16 d;               // super-scale
  };  // 110 bytes / 256 weights = 3.4375 bits per weight
  static_assert(sizeof(block) == 110);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q3_K";
  static constexpr int gguf_type = 11;
  static constexpr float max_magnitude = 65504.f * 32 * 3;

  // Signed sub-block scale j (-32..31): low four bits in a nibble of bytes 0..7,
  // high two bits in bytes 8..11.
  static constexpr int scale(const block& b, int j) {
    const int low4 = j < 8 ? (b.scales[j] & 15) : (b.scales[j - 8] >> 4);
    const int high2 = (b.scales[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low4 | high2 << 4) - 32;
  }
  // Code -4..3. The stored high bit is inverted: set means no offset.
  static constexpr int code(const block& b, int e) {
    const int low = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    const int hb = (b.hmask[e % 32] >> (e / 32)) & 1;
    return low - (hb ? 0 : 4);
  }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (int e = 0; e < 256; ++e) y[e] = (d * float(scale(b, e / 16))) * float(code(b, e));
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;
  // Fast: the least-squares scales of two grid scales (the extreme weight onto code -4,
  // GGUF's, and onto -4.2), and the nearest integer scales for GGUF's super-scale.
  // Thorough: four grid scales (the extreme weight onto 1.1 down to 0.8 times code -4),
  // then the joint search.
  static constexpr kq::symmetric_params fit{16, kq::q3_levels, -32, 31,
                                            {.scales = 2, .step = -0.05f, .first = 0, .choices = 1, .rounds = 1},
                                            {.scales = 4, .step = 0.1f, .first = 1, .choices = 5,
                                             .rounds = kq::kRefits, .extras = true}};

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    const kq::symmetric_superblock r = kq::fit_symmetric_superblock<Ops, q3_k>(x, w, e);
    for (int k = 0; k < 12; ++k) b.scales[k] = 0;
    for (int j = 0; j < 16; ++j) {
      const int s = r.sc[j] + 32;
      b.scales[j % 8] = uint8_t(b.scales[j % 8] | (s & 15) << (j < 8 ? 0 : 4));
      b.scales[8 + j % 4] = uint8_t(b.scales[8 + j % 4] | (s >> 4) << (2 * (j / 4)));
    }
    // r.L is code + 4: bit 2 goes to hmask, bits 0-1 to qs (branch-free loops).
    for (int l = 0; l < 32; ++l) {
      int h = 0;
      for (int k = 0; k < 8; ++k) h |= (r.L[32 * k + l] >> 2) << k;
      b.hmask[l] = uint8_t(h);
    }
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; ++l) {
        const uint8_t* q = r.L + 128 * h + l;
        b.qs[32 * h + l] = uint8_t((q[0] & 3) | (q[32] & 3) << 2 | (q[64] & 3) << 4 | (q[96] & 3) << 6);
      }
    b.d.set(r.d);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

// iq4_xs: iq4_nl's non-linear table in 8 sub-blocks of 32, with signed 6-bit
// sub-block scales against one f16 super-scale.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "code_planes.hpp"
#include "iq4_nl.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct iq4_xs {
  struct block {
    f16 d;               // super-scale
    le16 scales_h;       // bits 2b..2b+1: high two bits of sub-block b's scale
    uint8_t scales_l[4];  // nibble b % 2 of byte b / 2: low four bits of scale b
    uint8_t qs[128];     // per sub-block 16 bytes of table indices, GGUF 32-element nibble order
  };  // 136 bytes / 256 weights = 4.25 bits per weight
  static_assert(sizeof(block) == 136);
  using planes = detail::code_planes<4, 32>;
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "iq4_xs";
  static constexpr int gguf_type = 23;
  static constexpr float max_magnitude = 65504.f * 31 * 113;

  static constexpr int scale(const block& b, int s) {  // 0..63, offset 32
    return ((b.scales_l[s / 2] >> (4 * (s % 2))) & 15) | ((b.scales_h.get() >> (2 * s)) & 3) << 4;
  }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (int s = 0; s < 8; ++s) {
      const float dl = d * float(scale(b, s) - 32);
      for (int j = 0; j < 32; ++j) y[32 * s + j] = dl * float(detail::kv_nl[planes::get(nullptr, b.qs + 16 * s, j)]);
    }
  }

  // The two-level search of the symmetric k-quants (kquant_fit.hpp) on the table.
  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;
  // Fast: six grid scales, the extreme weight onto 1.1 down to 0.85 times the table's
  // first value; thorough: the walk, then the joint search.
  static constexpr kq::symmetric_params fit{32, {detail::kv_nl_f, 16}, -32, 31, {.scales = 6, .step = 0.05f, .first = 2},
                                            {.choices = 5, .rounds = kq::kRefits, .extras = true}};

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    const kq::symmetric_superblock r = kq::fit_symmetric_superblock<Ops, iq4_xs>(x, w, e);
    b.d.set(r.d);
    uint16_t high = 0;
    for (int s = 0; s < 4; ++s) b.scales_l[s] = 0;
    for (int s = 0; s < 8; ++s) {
      const int u = r.sc[s] + 32;
      b.scales_l[s / 2] = uint8_t(b.scales_l[s / 2] | (u & 15) << (4 * (s % 2)));
      high = uint16_t(high | (u >> 4) << (2 * s));
      int q[32];
      for (int j = 0; j < 32; ++j) q[j] = r.L[32 * s + j];
      planes::set_all(nullptr, b.qs + 16 * s, q);
    }
    b.scales_h.set(high);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

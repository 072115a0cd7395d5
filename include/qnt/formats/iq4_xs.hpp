// iq4_xs: iq4_nl's non-linear table in 8 sub-blocks of 32, with signed 6-bit
// sub-block scales against one f16 super-scale.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "code_planes.hpp"
#include "iq4_nl.hpp"

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

  static constexpr float error(const float* xn, const float* w, float dn, const int* ls) {
    float err = 0;
    for (int i = 0; i < 256; ++i) {
      const float dl = dn * float(ls[i / 32]);
      const float r = xn[i] - dl * detail::kv_nl_f[fit::table_code(detail::kv_nl_f, 16, xn[i], dl)];
      err += w[i] * r * r;
    }
    return err;
  }

  // Each sub-block's float scale comes from the table search of iq4_nl; the
  // super-scale maps the largest of them to -32; codes are re-derived from the
  // decoded sub-block scales; a least-squares refit of the super-scale is kept when
  // it lowers the error.
  static constexpr status encode(const float* x, const float* w, block& b) {
    const fit::normalized<256> nb(x);
    const float p = nb.p;
    const float* xn = nb.x;
    float sw[32], scales[8], amax = 0, max_scale = 0;
    for (int s = 0; s < 8; ++s) {
      for (int j = 0; j < 32; ++j) sw[j] = w[32 * s + j] * xn[32 * s + j] * xn[32 * s + j];
      bool unused = false;
      scales[s] = fit::fit_table<f32, 32>(xn + 32 * s, sw, detail::kv_nl_f, 16, false, unused).d;
      if (abs(scales[s]) > amax) amax = abs(scales[s]), max_scale = scales[s];
    }
    int ls[8] = {};
    fit::stored_scale<f16> d(-max_scale / 32.f, p);
    const float id = d.dn != 0 ? 1.f / d.dn : 0.f;
    for (int s = 0; s < 8; ++s) ls[s] = clamp(rne(id * scales[s]), -32, 31);
    float best = error(xn, w, d.dn, ls);
    // Refit the super-scale on the chosen codes.
    for (int iter = 0; iter < 2 && d.dn != 0; ++iter) {
      float sxa = 0, saa = 0;
      for (int i = 0; i < 256; ++i) {
        const float dl = d.dn * float(ls[i / 32]);
        const float a = float(ls[i / 32]) * detail::kv_nl_f[fit::table_code(detail::kv_nl_f, 16, xn[i], dl)];
        sxa += w[i] * xn[i] * a, saa += w[i] * a * a;
      }
      if (!(saa > 0)) break;
      const fit::stored_scale<f16> d2(sxa / saa, p);
      const float e = error(xn, w, d2.dn, ls);
      if (!(e < best)) break;
      best = e, d = d2;
    }
    b.d.set(d.stored);
    uint16_t high = 0;
    for (int s = 0; s < 4; ++s) b.scales_l[s] = 0;
    for (int s = 0; s < 8; ++s) {
      const int u = ls[s] + 32;
      b.scales_l[s / 2] = uint8_t(b.scales_l[s / 2] | (u & 15) << (4 * (s % 2)));
      high = uint16_t(high | (u >> 4) << (2 * s));
      int q[32];
      const float dl = d.dn * float(ls[s]);
      for (int j = 0; j < 32; ++j) q[j] = fit::table_code(detail::kv_nl_f, 16, xn[32 * s + j], dl);
      planes::set_all(nullptr, b.qs + 16 * s, q);
    }
    b.scales_h.set(high);
    return d.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

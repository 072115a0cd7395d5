// q5_K: q4_K with a fifth code bit (codes 0..31).
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "kquant_fit.hpp"

namespace qnt {

struct q5_k {
  struct block {
    f16 d;               // super-scale of the scales
    f16 dmin;            // super-scale of the mins
    uint8_t scales[12];  // as q4_K
    uint8_t qh[32];      // fifth bits: bit k of qh[l] belongs to weight 32k + l
    uint8_t qs[128];     // low four bits, q4_K's layout
  };  // 176 bytes / 256 weights = 5.5 bits per weight
  static_assert(sizeof(block) == 176);
  static constexpr size_t block_size = 256;
  static constexpr std::string_view name = "q5_K";
  static constexpr int gguf_type = 13;
  static constexpr float max_magnitude = 65504.f * 63;  // the mins: dmin * 63

  static constexpr int code(const block& b, int e) { return kq::low4(b.qs, e) | ((b.qh[e % 32] >> (e / 32)) & 1) << 4; }

  static constexpr void decode(const block& b, float* y) { kq::decode_scale_min(b, code, y); }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    constexpr kq::affine_params params{32, 31, 63};
    const kq::affine_superblock r = kq::fit_affine_superblock<Ops>(x, w, params, e);
    kq::pack_scale_min(r.sc, r.mn, b.scales);
    for (int l = 0; l < 32; ++l) {
      int h = 0;
      for (int k = 0; k < 8; ++k) h |= (r.L[32 * k + l] >> 4) << k;
      b.qh[l] = uint8_t(h);
    }
    kq::set_low4(r.L, b.qs);
    b.d.set(r.d);
    b.dmin.set(r.dmin);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

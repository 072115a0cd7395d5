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

  static constexpr int code(const block& b, int e) { return kq::low4(b.qs, e); }

  static constexpr void decode(const block& b, float* y) { kq::decode_scale_min(b, code, y); }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = kq::scalar_ops>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    constexpr kq::affine_params params{32, 15, 63};
    const kq::affine_superblock r = kq::fit_affine_superblock<Ops>(x, w, params, e);
    kq::pack_scale_min(r.sc, r.mn, b.scales);
    kq::set_low4(r.L, b.qs);
    b.d.set(r.d);
    b.dmin.set(r.dmin);
    return r.clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

// iq4_nl: 4-bit indices into a fixed non-linear int8 table, one f16 scale per 32.
#pragma once

#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "code_planes.hpp"

namespace qnt {
namespace detail {

// GGUF's non-linear 4-bit table, shared by iq4_nl and iq4_xs. It has no zero.
inline constexpr int8_t kv_nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
inline constexpr float kv_nl_f[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

}  // namespace detail

struct iq4_nl {
  struct block {
    f16 d;           // scale
    uint8_t qs[16];  // table indices, GGUF 32-element nibble order
  };  // 18 bytes / 32 weights = 4.5 bits per weight
  static_assert(sizeof(block) == 18);
  using planes = detail::code_planes<4, 32>;
  static constexpr size_t block_size = 32;
  static constexpr std::string_view name = "iq4_nl";
  static constexpr int gguf_type = 20;
  static constexpr float max_magnitude = 65504.f * 113;  // the table's smaller end

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (size_t i = 0; i < 32; ++i) y[i] = d * float(detail::kv_nl[planes::get(nullptr, b.qs, i)]);
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = fit::scalar_passes>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    bool clamped = false;
    int q[32];
    if (e == effort::fast) {
      b.d.set(fit::fit_table_fast<f16, 32, Ops>(x, w, detail::kv_nl_f, 16, false, clamped, q));
    } else {
      const fit::symmetric_fit f = fit::fit_table<f16, 32>(x, w, detail::kv_nl_f, 16, false, clamped);
      b.d.set(f.d);
      for (size_t i = 0; i < 32; ++i) q[i] = fit::table_code(detail::kv_nl_f, 16, x[i], f.d);
    }
    planes::set_all(nullptr, b.qs, q);
    return clamped ? status::scale_clamped : status::ok;
  }
};

}  // namespace qnt

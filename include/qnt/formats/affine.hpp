// affine<Bits, Group, Scale>: y = d * q + m with a scale and an offset (the group's
// minimum) per group and unsigned codes q. GGUF's q4_1 and q5_1 are the 32-weight,
// f16 instances, byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "../core/name.hpp"
#include "code_planes.hpp"

namespace qnt {
namespace detail {

template <class Scale, unsigned Bits, size_t G>
struct affine_block;
template <class Scale, size_t G>
struct affine_block<Scale, 4, G> {
  Scale d;            // scale
  Scale m;            // offset
  uint8_t qs[G / 2];  // codes 0..15, nibble order of code_planes
};
template <class Scale, size_t G>
struct affine_block<Scale, 5, G> {
  Scale d;
  Scale m;
  uint8_t qh[G / 8];  // fifth bits
  uint8_t qs[G / 2];  // low four bits
};
template <class Scale, size_t G>
struct affine_block<Scale, 8, G> {
  Scale d;
  Scale m;
  uint8_t qs[G];  // codes 0..255
};

}  // namespace detail

template <unsigned Bits, size_t Group, scale_cell Scale = f16>
struct affine {
  using block = detail::affine_block<Scale, Bits, Group>;
  using scale = Scale;
  using planes = detail::code_planes<Bits, Group>;
  static constexpr unsigned bits = Bits;
  static constexpr size_t block_size = Group;
  static constexpr int nmax = (1 << Bits) - 1;
  static constexpr bool is_gguf = Group == 32 && std::is_same_v<Scale, f16> && Bits != 8;
  static constexpr int gguf_type = !is_gguf ? -1 : Bits == 4 ? 3 : 7;
  static constexpr auto generic_name_ = detail::generic_name<Scale>("aff", Bits, Group);
  static constexpr std::string_view name = !is_gguf ? generic_name_.view() : Bits == 4 ? "q4_1" : "q5_1";
  static_assert(sizeof(block) == 2 * sizeof(Scale) + planes::qh_bytes + planes::qs_bytes, "packed layout");
  // The offset must reach -x and the scale span 2x: the offset's range is the bound.
  static constexpr float max_magnitude = Scale::max_finite;

  static constexpr int code(const block& b, size_t i) {
    if constexpr (Bits == 5) return int(planes::get(b.qh, b.qs, i));
    else return int(planes::get(nullptr, b.qs, i));
  }

  // y = q * d + m. With f16 / bf16 scales the product is exact, so fused or not the
  // sum rounds once; an f32 scale's product is not, and the specification is the
  // fused form (one rounding), which SIMD code gets from a true FMA.
  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get(), m = b.m.get();
    for (size_t i = 0; i < Group; ++i) {
      if constexpr (std::is_same_v<Scale, f32>) y[i] = fused_mul_add(float(code(b, i)), d, m);
      else y[i] = float(code(b, i)) * d + m;
    }
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = fit::scalar_passes>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    bool clamped = false;
    int q[Group];
    if (e == effort::fast) {
      const fit::affine_result f = fit::fit_affine_fast<Scale, Group, Ops>(x, w, nmax, clamped, q);
      b.d.set(f.d);
      b.m.set(f.m);
    } else {
      const fit::affine_fit f = fit::fit_affine<Scale, Group>(x, w, nmax, clamped);
      b.d.set(f.d);
      b.m.set(f.m);
      for (size_t i = 0; i < Group; ++i) q[i] = fit::affine_code(x[i], f.d, f.m, nmax);
    }
    if constexpr (Bits == 5) planes::set_all(b.qh, b.qs, q);
    else planes::set_all(nullptr, b.qs, q);
    return clamped ? status::scale_clamped : status::ok;
  }
};

// GGUF legacy formats that are plain affine quantization.
using q4_1 = affine<4, 32, f16>;  // 20 bytes / 32 weights = 5 bits per weight
using q5_1 = affine<5, 32, f16>;  // 24 bytes / 32 weights = 6 bits per weight
static_assert(sizeof(q4_1::block) == 20 && sizeof(q5_1::block) == 24);

}  // namespace qnt

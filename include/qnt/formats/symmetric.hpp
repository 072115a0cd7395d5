// symmetric<Bits, Group, Scale>: y = d * q with one scale per group of weights and
// signed codes q. GGUF's q4_0, q5_0 and q8_0 are the 32-weight, f16-scale instances,
// byte for byte.
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
struct symmetric_block;
template <class Scale, size_t G>
struct symmetric_block<Scale, 4, G> {
  Scale d;           // scale
  uint8_t qs[G / 2];  // codes q + 8, nibble order of code_planes
};
template <class Scale, size_t G>
struct symmetric_block<Scale, 5, G> {
  Scale d;
  uint8_t qh[G / 8];  // fifth bit of each code q + 16
  uint8_t qs[G / 2];  // low four bits
};
template <class Scale, size_t G>
struct symmetric_block<Scale, 8, G> {
  Scale d;
  int8_t qs[G];  // codes, two's complement
};

}  // namespace detail

template <unsigned Bits, size_t Group, scale_cell Scale = f16>
struct symmetric {
  using block = detail::symmetric_block<Scale, Bits, Group>;
  using scale = Scale;
  using planes = detail::code_planes<Bits, Group>;
  static constexpr unsigned bits = Bits;
  static constexpr size_t block_size = Group;
  // Code range. Four and five bits use the whole two's-complement range (the extreme
  // weight may take -8 / -16); eight bits stop at -127 so that int8 dot products that
  // negate codes (sign tricks in SIMD kernels) never meet -128.
  static constexpr int qmax = (1 << (Bits - 1)) - 1;
  static constexpr int qmin = Bits == 8 ? -qmax : -qmax - 1;
  static constexpr bool is_gguf = Group == 32 && std::is_same_v<Scale, f16>;
  static constexpr int gguf_type = !is_gguf ? -1 : Bits == 4 ? 2 : Bits == 5 ? 6 : 8;
  static constexpr auto generic_name_ = detail::generic_name<Scale>("sym", Bits, Group);
  static constexpr std::string_view name =
      !is_gguf ? generic_name_.view() : Bits == 4 ? "q4_0" : Bits == 5 ? "q5_0" : "q8_0";
  static_assert(sizeof(block) == sizeof(Scale) + planes::qh_bytes + planes::qs_bytes, "packed layout");
  static constexpr float max_magnitude = min(Scale::max_finite, 0x1p119f) * float(qmax);

  static constexpr int code(const block& b, size_t i) {
    if constexpr (Bits == 8) return b.qs[i];
    else if constexpr (Bits == 5) return int(planes::get(b.qh, b.qs, i)) + qmin;
    else return int(planes::get(nullptr, b.qs, i)) + qmin;
  }

  static constexpr void decode(const block& b, float* y) {
    const float d = b.d.get();
    for (size_t i = 0; i < Group; ++i) y[i] = float(code(b, i)) * d;
  }

  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  // Stores the scale d and codes q (in [qmin, qmax]; overwritten).
  static constexpr void store(block& b, float d, int* q) {
    b.d.set(d);
    if constexpr (Bits == 8) {
      for (size_t i = 0; i < Group; ++i) b.qs[i] = int8_t(q[i]);
    } else {
      for (size_t i = 0; i < Group; ++i) q[i] -= qmin;
      if constexpr (Bits == 5) planes::set_all(b.qh, b.qs, q);
      else planes::set_all(nullptr, b.qs, q);
    }
  }

  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    bool clamped = false;
    int q[Group];
    float d = 0;
    if (e == effort::fast) {
      d = fit::fit_symmetric_fast<Scale, Group>(x, w, qmin, qmax, clamped, q);
    } else {
      d = fit::fit_symmetric<Scale, Group>(x, w, qmin, qmax, clamped).d;
      for (size_t i = 0; i < Group; ++i) q[i] = fit::symmetric_code(x[i], d, qmin, qmax);
    }
    store(b, d, q);
    return clamped ? status::scale_clamped : status::ok;
  }
};

// GGUF legacy formats that are plain symmetric quantization.
using q4_0 = symmetric<4, 32, f16>;  // 18 bytes / 32 weights = 4.5 bits per weight
using q5_0 = symmetric<5, 32, f16>;  // 22 bytes / 32 weights = 5.5 bits per weight
using q8_0 = symmetric<8, 32, f16>;  // 34 bytes / 32 weights = 8.5 bits per weight
static_assert(sizeof(q4_0::block) == 18 && sizeof(q5_0::block) == 22 && sizeof(q8_0::block) == 34);

}  // namespace qnt

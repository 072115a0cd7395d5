// Storage of the b-bit codes of a G-element group, GGUF's legacy layout generalised
// to any group size: 4-bit codes put element j in the low nibble and element j + G/2
// in the high nibble of qs[j]; 5-bit codes add their fifth bit, for element i, as
// bit i % 8 of qh[i / 8] (for G = 32 that is GGUF's little-endian u32); 8-bit codes
// are one byte each.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qnt::detail {

template <unsigned Bits, size_t G>
struct code_planes {
  static_assert(Bits == 4 || Bits == 5 || Bits == 8, "codes of 4, 5 or 8 bits");
  static_assert(G >= 8 && G % 8 == 0 && G <= 4096, "group size: a multiple of 8, 8 to 4096");
  static constexpr size_t qh_bytes = Bits == 5 ? G / 8 : 0;
  static constexpr size_t qs_bytes = Bits == 8 ? G : G / 2;

  static constexpr unsigned get(const uint8_t* qh, const uint8_t* qs, size_t i) {
    if constexpr (Bits == 8) {
      return qs[i];
    } else {
      const size_t j = i % (G / 2);
      unsigned q = i < G / 2 ? (qs[j] & 15u) : (qs[j] >> 4);
      if constexpr (Bits == 5) q |= ((qh[i / 8] >> (i % 8)) & 1u) << 4;
      return q;
    }
  }
  // Writes all G codes (each < 2^Bits) at once, so no stale bits survive.
  template <class Code>
  static constexpr void set_all(uint8_t* qh, uint8_t* qs, const Code* q) {
    if constexpr (Bits == 8) {
      for (size_t i = 0; i < G; ++i) qs[i] = uint8_t(q[i]);
    } else {
      for (size_t j = 0; j < G / 2; ++j) qs[j] = uint8_t((unsigned(q[j]) & 15u) | (unsigned(q[j + G / 2]) & 15u) << 4);
      if constexpr (Bits == 5) {
        for (size_t b = 0; b < G / 8; ++b) qh[b] = 0;
        for (size_t i = 0; i < G; ++i) qh[i / 8] = uint8_t(qh[i / 8] | ((unsigned(q[i]) >> 4) & 1u) << (i % 8));
      }
    }
  }
};

}  // namespace qnt::detail

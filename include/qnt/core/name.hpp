// Compile-time names for the generic formats ("sym4_g64_bf16", ...).
#pragma once

#include <cstddef>
#include <string_view>

namespace qnt::detail {

template <size_t N>
struct fixed_name {
  char text[N] = {};
  size_t size = 0;
  constexpr void append(std::string_view s) {
    for (char c : s) text[size++] = c;
  }
  constexpr void append(size_t v) {
    char digits[20] = {};
    int k = 0;
    do digits[k++] = char('0' + v % 10), v /= 10;
    while (v);
    while (k) text[size++] = digits[--k];
  }
  constexpr std::string_view view() const { return {text, size}; }
};

// "<kind><bits>_g<group>_<scale>", e.g. sym8_g128_f32 (bits 0: left out).
template <class Scale>
constexpr fixed_name<40> generic_name(std::string_view kind, unsigned bits, size_t group) {
  fixed_name<40> n;
  n.append(kind);
  if (bits) n.append(size_t(bits));
  n.append("_g"), n.append(group), n.append("_"), n.append(Scale::name);
  return n;
}

}  // namespace qnt::detail

// NF4 (4-bit NormalFloat) as bitsandbytes defines it: 16 quantiles of a normal
// distribution scaled to [-1, 1], one scale ("absmax") per block of Block weights.
// Inside a block, byte k holds element 2k in its high nibble and element 2k + 1 in
// its low nibble (bitsandbytes' order, the opposite of GGUF's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "../core/name.hpp"

namespace qnt {
namespace detail {

inline constexpr float nf4_values[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
inline constexpr uint8_t nf4_zero_code = 7;

}  // namespace detail

template <size_t Block = 64, scale_cell Scale = f32>
struct basic_nf4 {
  static_assert(Block >= 2 && Block % 2 == 0 && Block <= 4096, "NF4 block: an even size up to 4096");
  struct block {
    Scale absmax;          // scale: bitsandbytes stores max |x| of the block
    uint8_t qs[Block / 2];  // codes, element 2k in the high nibble of qs[k]
  };  // with the defaults: 36 bytes / 64 weights = 4.5 bits per weight
  static_assert(sizeof(block) == sizeof(Scale) + Block / 2);
  static constexpr size_t block_size = Block;
  static constexpr int gguf_type = -1;
  static constexpr float max_magnitude = Scale::max_finite;
  static constexpr bool is_default = Block == 64 && std::is_same_v<Scale, f32>;
  static constexpr auto generic_name_ = detail::generic_name<Scale>("nf4", 0, Block);
  static constexpr std::string_view name = is_default ? std::string_view("nf4") : generic_name_.view();

  static constexpr unsigned code(const block& b, size_t i) {
    return i % 2 == 0 ? b.qs[i / 2] >> 4 : b.qs[i / 2] & 15u;
  }

  static constexpr void decode(const block& b, float* y) {
    const float s = b.absmax.get();
    for (size_t i = 0; i < Block; ++i) y[i] = detail::nf4_values[code(b, i)] * s;
  }

  // The scale is searched around absmax (which bitsandbytes would store) and kept
  // non-negative, so the block stays valid for bitsandbytes' own kernels.
  // The fast search has a SIMD form (kernels/quantize-inl.h) that writes the same bytes.
  static constexpr bool simd_fast_quantizer = true;

  template <class Ops = fit::scalar_passes>
  static constexpr status encode(const float* x, const float* w, block& b, effort e) {
    bool clamped = false;
    int q[Block];
    if (e == effort::fast) {
      b.absmax.set(fit::fit_table_fast<Scale, Block, Ops>(x, w, detail::nf4_values, 16, true, clamped, q));
    } else {
      const fit::symmetric_fit f = fit::fit_table<Scale, Block>(x, w, detail::nf4_values, 16, true, clamped);
      b.absmax.set(f.d);
      for (size_t i = 0; i < Block; ++i)
        q[i] = f.d == 0 ? detail::nf4_zero_code : fit::table_code(detail::nf4_values, 16, x[i], f.d);
    }
    for (size_t k = 0; k < Block / 2; ++k) b.qs[k] = uint8_t(q[2 * k] << 4 | q[2 * k + 1]);
    return clamped ? status::scale_clamped : status::ok;
  }
};

using nf4 = basic_nf4<64, f32>;

// bitsandbytes keeps NF4 tensors planar: a packed code array over the flattened
// tensor (element 2k in the high nibble of byte k, ceil(n / 2) bytes) and a separate
// f32 absmax array with one entry per block (ceil(n / Block) entries). These convert
// losslessly between that layout and qnt's blocks (with an f32 scale; an f16 / bf16
// scale rounds absmax to nearest). A partial last block is padded with the code of
// 0.0, and an odd n leaves the unused low nibble of the last planar byte zero.
template <class F>
constexpr size_t nf4_blocks_for(size_t n) {
  return (n + F::block_size - 1) / F::block_size;
}

template <class F>
constexpr status nf4_from_planar(const uint8_t* codes, const float* absmax, size_t n, typename F::block* out) {
  if (n == 0) return status::ok;
  if (!codes || !absmax || !out) return status::null_pointer;
  constexpr size_t B = F::block_size;
  for (size_t b = 0; b < nf4_blocks_for<F>(n); ++b) {
    typename F::block& blk = out[b];
    blk.absmax.set(absmax[b]);
    for (size_t k = 0; k < B / 2; ++k) {
      const size_t i = b * B + 2 * k;  // flattened index of the high nibble
      uint8_t byte = uint8_t(detail::nf4_zero_code << 4 | detail::nf4_zero_code);
      if (i + 1 < n) byte = codes[i / 2];
      else if (i < n) byte = uint8_t((codes[i / 2] & 0xF0u) | detail::nf4_zero_code);
      blk.qs[k] = byte;
    }
  }
  return status::ok;
}

template <class F>
constexpr status nf4_to_planar(const typename F::block* in, size_t n, uint8_t* codes, float* absmax) {
  if (n == 0) return status::ok;
  if (!in || !codes || !absmax) return status::null_pointer;
  constexpr size_t B = F::block_size;
  for (size_t b = 0; b < nf4_blocks_for<F>(n); ++b) absmax[b] = in[b].absmax.get();
  for (size_t k = 0; k < (n + 1) / 2; ++k) {
    const size_t i = 2 * k;
    uint8_t byte = in[i / B].qs[(i % B) / 2];
    if (i + 1 >= n) byte &= 0xF0u;
    codes[k] = byte;
  }
  return status::ok;
}

}  // namespace qnt

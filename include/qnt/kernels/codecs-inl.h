// SIMD fast paths of the codecs (specializations of Codec<F>). Each one splits the
// block's bit fields into one byte per weight with vector ops, then turns bytes into
// floats with the format's scales in vector lanes. They follow the reference's
// arithmetic operation for operation (integer offset before conversion, the scale
// product formed in float first), so the results are bit-identical; the kernel
// tests compare them on every target.

#if defined(QNT_KERNELS_CODECS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_CODECS_INL_H_
#undef QNT_KERNELS_CODECS_INL_H_
#else
#define QNT_KERNELS_CODECS_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "hwy/highway.h"
#include "../formats/affine.hpp"
#include "../formats/iq4_nl.hpp"
#include "../formats/mxfp4.hpp"
#include "../formats/q4_k.hpp"
#include "../formats/q5_k.hpp"
#include "../formats/q6_k.hpp"
#include "../formats/symmetric.hpp"
#include "codec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

// Largest power of two (up to 32) dividing `count`: the vector width that tiles it.
constexpr size_t PowerOfTwoIn(size_t count) {
  size_t p = 1;
  while (p < 32 && count % (2 * p) == 0) p *= 2;
  return p;
}

// out[i] = float(int(codes[i]) - offset) * scale, for i in [0, kCount).
template <size_t kCount, typename TCode>
HWY_INLINE void CodesTimesScale(const TCode* HWY_RESTRICT codes, int offset, float scale, float* HWY_RESTRICT out) {
  const hn::CappedTag<float, PowerOfTwoIn(kCount)> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<TCode, decltype(df)> dc;
  const auto vs = hn::Set(df, scale);
  const auto vo = hn::Set(di, offset);
  for (size_t i = 0; i < kCount; i += hn::Lanes(df)) {
    const auto q = hn::ConvertTo(df, hn::Sub(hn::PromoteTo(di, hn::LoadU(dc, codes + i)), vo));
    hn::StoreU(hn::Mul(q, vs), df, out + i);
  }
}

// out[i] = float(codes[i]) * scale - sub (q4_K / q5_K; the product is exact, so
// fused or not, one rounding).
template <size_t kCount>
HWY_INLINE void CodesTimesScaleMinus(const uint8_t* HWY_RESTRICT codes, float scale, float sub, float* HWY_RESTRICT out) {
  const hn::CappedTag<float, PowerOfTwoIn(kCount)> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> dc;
  const auto vs = hn::Set(df, scale), vm = hn::Set(df, sub);
  for (size_t i = 0; i < kCount; i += hn::Lanes(df)) {
    const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(dc, codes + i)));
    hn::StoreU(hn::Sub(hn::Mul(q, vs), vm), df, out + i);
  }
}

// out[i] = float(codes[i]) * scale + add, one rounding (a true FMA where the
// product may be inexact).
template <size_t kCount>
HWY_INLINE void CodesMulAdd(const uint8_t* HWY_RESTRICT codes, float scale, float add, float* HWY_RESTRICT out) {
  const hn::CappedTag<float, PowerOfTwoIn(kCount)> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<uint8_t, decltype(df)> dc;
  const auto vs = hn::Set(df, scale), va = hn::Set(df, add);
  for (size_t i = 0; i < kCount; i += hn::Lanes(df)) {
    const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(dc, codes + i)));
    hn::StoreU(hn::MulAdd(q, vs, va), df, out + i);
  }
}

// Splits `bytes` bytes of nibbles: lo[j] = low nibble of in[j], hi[j] = high nibble.
template <size_t kBytes>
HWY_INLINE void SplitNibbles(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT lo, uint8_t* HWY_RESTRICT hi) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t j = 0; j < kBytes; ++j) lo[j] = in[j] & 15, hi[j] = in[j] >> 4;
#else
  const hn::CappedTag<uint8_t, PowerOfTwoIn(kBytes)> d8;
  const auto mask = hn::Set(d8, 0x0F);
  for (size_t j = 0; j < kBytes; j += hn::Lanes(d8)) {
    const auto v = hn::LoadU(d8, in + j);
    hn::StoreU(hn::And(v, mask), d8, lo + j);
    hn::StoreU(hn::ShiftRight<4>(v), d8, hi + j);
  }
#endif
}

// symmetric<Bits, G, Scale>: q4_0, q5_0, q8_0 and the generic instances.
template <unsigned Bits, size_t G, class Scale>
struct Codec<symmetric<Bits, G, Scale>> {
  using F = symmetric<Bits, G, Scale>;
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
    const float d = b.d.get();
    if constexpr (Bits == 8) {
      CodesTimesScale<G>(b.qs, 0, d, out);
    } else {
      HWY_ALIGN uint8_t codes[G];
      SplitNibbles<G / 2>(b.qs, codes, codes + G / 2);
      if constexpr (Bits == 5)
        for (size_t i = 0; i < G; ++i) codes[i] = uint8_t(codes[i] | ((b.qh[i / 8] >> (i % 8)) & 1) << 4);
      CodesTimesScale<G>(codes, -F::qmin, d, out);
    }
  }
};

// affine<Bits, G, Scale>: q4_1, q5_1 and the generic instances. An f32 scale needs
// a true FMA to match the specification; without one, the scalar reference runs.
template <unsigned Bits, size_t G, class Scale>
struct Codec<affine<Bits, G, Scale>> {
  using F = affine<Bits, G, Scale>;
  static constexpr bool kSimd = HWY_NATIVE_FMA || !std::is_same_v<Scale, f32>;
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
    if constexpr (!kSimd) {
      F::decode(b, out);
    } else {
      const float d = b.d.get(), m = b.m.get();
      if constexpr (Bits == 8) {
        CodesMulAdd<G>(b.qs, d, m, out);
      } else {
        HWY_ALIGN uint8_t codes[G];
        SplitNibbles<G / 2>(b.qs, codes, codes + G / 2);
        if constexpr (Bits == 5)
          for (size_t i = 0; i < G; ++i) codes[i] = uint8_t(codes[i] | ((b.qh[i / 8] >> (i % 8)) & 1) << 4);
        CodesMulAdd<G>(codes, d, m, out);
      }
    }
  }
};

// Code-table formats whose table holds small integers: indices become the table's
// int8 values, then value * scale.
template <>
struct Codec<iq4_nl> {
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const iq4_nl::block& b, float* HWY_RESTRICT out) {
    HWY_ALIGN uint8_t idx[32];
    HWY_ALIGN int8_t vals[32];
    SplitNibbles<16>(b.qs, idx, idx + 16);
    for (size_t i = 0; i < 32; ++i) vals[i] = detail::kv_nl[idx[i]];
    // Reference: d * float(value); multiplication commutes exactly.
    CodesTimesScale<32>(vals, 0, b.d.get(), out);
  }
};

template <>
struct Codec<mxfp4> {
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const mxfp4::block& b, float* HWY_RESTRICT out) {
    HWY_ALIGN uint8_t idx[32];
    HWY_ALIGN int8_t vals[32];
    SplitNibbles<16>(b.qs, idx, idx + 16);
    for (size_t i = 0; i < 32; ++i) vals[i] = detail::kv_fp4[idx[i]];
    CodesTimesScale<32>(vals, 0, e8m0_half_to_f32(b.e), out);
  }
};

// q4_K / q5_K: per 64 weights, 32 bytes whose low nibbles are the first sub-block
// of 32 and high nibbles the second.
template <class F>
HWY_INLINE void DecodeScaleMin(const typename F::block& b, float* HWY_RESTRICT out) {
  const float d = b.d.get(), dmin = b.dmin.get();
  HWY_ALIGN uint8_t codes[64];
  for (int c = 0; c < 4; ++c) {
    SplitNibbles<32>(b.qs + 32 * c, codes, codes + 32);
    if constexpr (std::is_same_v<F, q5_k>)
      for (int i = 0; i < 64; ++i) {
        const int e = 64 * c + i;
        codes[i] = uint8_t(codes[i] | ((b.qh[e % 32] >> (e / 32)) & 1) << 4);
      }
    for (int half = 0; half < 2; ++half) {
      const int s = 2 * c + half;
      uint8_t sc = 0, mn = 0;
      kq::unpack_scale_min(b.scales, s, sc, mn);
      CodesTimesScaleMinus<32>(codes + 32 * half, d * float(sc), dmin * float(mn), out + 32 * s);
    }
  }
}

template <>
struct Codec<q4_k> {
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const q4_k::block& b, float* HWY_RESTRICT out) {
    DecodeScaleMin<q4_k>(b, out);
  }
};

template <>
struct Codec<q5_k> {
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const q5_k::block& b, float* HWY_RESTRICT out) {
    DecodeScaleMin<q5_k>(b, out);
  }
};

// q6_K: per 128 weights, 64 bytes of low nibbles and 32 bytes of 2-bit pairs.
template <>
struct Codec<q6_k> {
  static constexpr bool kSimd = true;
  template <class DF>
  static HWY_INLINE void Decode(DF, const q6_k::block& b, float* HWY_RESTRICT out) {
    HWY_ALIGN uint8_t codes[256];
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      uint8_t* q = codes + 128 * h;
      SplitNibbles<32>(ql, q, q + 64);        // groups 0 and 2
      SplitNibbles<32>(ql + 32, q + 32, q + 96);  // groups 1 and 3
      for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) q[32 * g + l] = uint8_t(q[32 * g + l] | ((qh[l] >> (2 * g)) & 3) << 4);
    }
    const float d = b.d.get();
    for (int j = 0; j < 16; ++j) CodesTimesScale<16>(codes + 16 * j, 32, d * float(b.scales[j]), out + 16 * j);
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

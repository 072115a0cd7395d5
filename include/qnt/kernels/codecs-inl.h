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

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "hwy/highway.h"
#include "../formats/affine.hpp"
#include "../formats/iq4_nl.hpp"
#include "../formats/mxfp4.hpp"
#include "../formats/nf4.hpp"
#include "../formats/iq4_xs.hpp"
#include "../formats/q2_k.hpp"
#include "../formats/q3_k.hpp"
#include "../formats/q4_k.hpp"
#include "../formats/q5_k.hpp"
#include "../formats/q6_k.hpp"
#include "../formats/q8_1.hpp"
#include "../formats/q8_k.hpp"
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

// A stored scale as f32: f16 through F16C where x86 has it (as exact as the
// reference for every finite value and infinity; a NaN stays NaN).
template <class S>
HWY_INLINE float ScaleOf(const S& s) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (std::is_same_v<S, f16>) return _cvtsh_ss(s.bits.get());
#endif
  return s.get();
}

// A block's stored scale `field` as f32, when it is the f16 at byte 2 * kLane (the
// scale d: 0, an affine offset m after it: 1). Where the block has 8 bytes and x86
// has F16C, converted straight from an 8-byte load of the block's start (a load and
// one conversion, no insert of 16 bits into a vector register).
template <size_t kLane, class Block, class S>
HWY_INLINE float LeadingScale(const Block& b, const S& field) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (sizeof(Block) >= 8 && std::is_same_v<S, f16>) {  // at byte 2 * kLane: the callers assert it
    uint64_t head;
    std::memcpy(&head, &b, 8);
    const __m128 v = _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(head)));
    return _mm_cvtss_f32(kLane == 0 ? v : _mm_movehdup_ps(v));
  }
#endif
  (void)b;
  return ScaleOf(field);
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// The 32-bit word at byte kAt of block b in the low lane of a 128-bit register.
template <size_t kAt, class Block>
HWY_INLINE __m128i BlockWord(const Block* HWY_RESTRICT b) {
  static_assert(kAt + 4 <= sizeof(Block), "the word lies within its block");
  int32_t v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(b) + kAt, 4);
  return _mm_cvtsi32_si128(v);
}

// The 32-bit words at byte kAt of Lanes(di) consecutive blocks. Loaded one by one
// and inserted into the vector (the compiler's code for this array): on AMD Zen a
// gather instruction is microcode and made the q4_0 matvec 25% slower in L3.
template <size_t kAt, class DI, class Block>
HWY_INLINE hn::Vec<DI> GatherWords(DI di, const Block* HWY_RESTRICT b) {
  static_assert(kAt + 4 <= sizeof(Block), "the gathered word lies within the block");
#if HWY_TARGET == HWY_AVX3_DL
  constexpr size_t S = sizeof(Block), kStep = 124, kWindows = (15 * S + kAt) / kStep + 1;
  if constexpr (hn::MaxLanes(di) == 16 && kWindows <= 4) {
    // Byte permutes instead (VBMI's vpermt2b): windows of 128 bytes, 124 apart so that
    // every word lies whole in one, each a permute of two loads, kept for the lanes of
    // its words. The loads are masked to the sixteen blocks: nothing past them is read.
    // (Blocks of more than 32 bytes need more windows than words take inserts.)
    constexpr size_t kBytes = 16 * S;
    struct Window {
      alignas(64) uint8_t index[64];
      uint64_t lanes = 0;  // the bytes of the words this window holds
    };
    alignas(64) static constexpr auto kWindow = [] {
      std::array<Window, kWindows> windows{};
      for (size_t k = 0; k < 16; ++k) {
        const size_t at = k * S + kAt, w = at / kStep;
        for (size_t i = 0; i < 4; ++i) windows[w].index[4 * k + i] = uint8_t(at - kStep * w + i);
        windows[w].lanes |= uint64_t{15} << (4 * k);
      }
      return windows;
    }();
    const uint8_t* HWY_RESTRICT bytes = reinterpret_cast<const uint8_t*>(b);
    const auto load = [&](size_t at) HWY_ATTR {
      const __mmask64 mask = kBytes - at >= 64 ? ~uint64_t{0} : (uint64_t{1} << (kBytes - at)) - 1;
      return _mm512_maskz_loadu_epi8(mask, bytes + at);
    };
    __m512i words = _mm512_setzero_si512();
    for (size_t w = 0; w < kWindows; ++w) {
      const size_t at = kStep * w;
      const __m512i low = load(at), high = kBytes - at > 64 ? load(at + 64) : _mm512_setzero_si512();
      words = _mm512_mask_blend_epi8(kWindow[w].lanes, words,
                                     _mm512_permutex2var_epi8(low, _mm512_loadu_si512(kWindow[w].index), high));
    }
    return hn::Vec<DI>{words};
  }
#endif
#if HWY_TARGET == HWY_AVX2
  if constexpr (hn::MaxLanes(di) == 8) {
    // Inserts in registers: a vector load of eight word stores would wait for them.
    const auto word = [&](size_t k) { return BlockWord<kAt>(b + k); };
    const auto four = [&](size_t k) {
      const __m128i w01 = _mm_unpacklo_epi32(word(k), word(k + 1)), w23 = _mm_unpacklo_epi32(word(k + 2), word(k + 3));
      return _mm_unpacklo_epi64(w01, w23);
    };
    return hn::Vec<DI>{_mm256_inserti128_si256(_mm256_castsi128_si256(four(0)), four(4), 1)};
  }
#endif
  HWY_ALIGN int32_t words[hn::MaxLanes(di)];
  for (size_t k = 0; k < hn::MaxLanes(di); ++k) std::memcpy(&words[k], reinterpret_cast<const uint8_t*>(b + k) + kAt, 4);
  return hn::Load(di, words);
}

// GatherWords of the first n <= Lanes(di) blocks (a partial run: nothing past them is
// read); the lanes past them 0.
template <size_t kAt, class DI, class Block>
HWY_INLINE hn::Vec<DI> GatherWords(DI di, const Block* HWY_RESTRICT b, size_t n) {
  if (n == hn::MaxLanes(di)) return GatherWords<kAt>(di, b);
  HWY_ALIGN int32_t words[hn::MaxLanes(di)] = {};
  for (size_t k = 0; k < n; ++k) std::memcpy(&words[k], reinterpret_cast<const uint8_t*>(b + k) + kAt, 4);
  return hn::Load(di, words);
}

// The scales of type S in the low bytes of 32-bit words, as f32.
template <class S, class DF>
HWY_INLINE hn::Vec<DF> WordScales(DF df, hn::Vec<hn::RebindToSigned<DF>> words) {
  if constexpr (std::is_same_v<S, f16>) {
    const hn::RebindToUnsigned<DF> du;
    const hn::Rebind<hwy::float16_t, DF> dh;
    return hn::PromoteTo(df, hn::BitCast(dh, hn::TruncateTo(hn::Rebind<uint16_t, DF>(), hn::BitCast(du, words))));
  } else if constexpr (std::is_same_v<S, bf16>) {
    return hn::BitCast(df, hn::ShiftLeft<16>(words));
  } else {
    static_assert(std::is_same_v<S, f32>, "scale cells: f16, bf16, f32");
    return hn::BitCast(df, words);
  }
}

// The scales of type S at byte kAt of n <= Lanes(df) consecutive blocks as f32 (lanes
// past them 0), and with `second` the scales of type S that follow them (an affine
// offset, a dmin); 16-bit pairs from one word.
template <class S, size_t kAt, class DF, class Block>
HWY_INLINE hn::Vec<DF> BlockScales(DF df, const Block* HWY_RESTRICT b, size_t n, hn::Vec<DF>* second = nullptr) {
  const hn::RebindToSigned<DF> di;
#if HWY_TARGET == HWY_AVX2
  if constexpr (std::is_same_v<S, f16> && hn::MaxLanes(df) == 8) {
    if (n == 8) {
      // The blocks' words interleaved in 128 bits (unpacks of 16, 32 and 64 bits), so
      // that the eight f16 end side by side for one conversion, where truncating eight
      // 32-bit lanes took a 256-bit permute (on Zen 1 on the multiply pipe's time).
      // Matvec, alternated, one thread: q4_1 +3 to +8%, q5_1 +4%, q4_0 +3%, the rest even.
      const auto word = [&](size_t k) { return BlockWord<kAt>(b + k); };
      // Blocks k..k+3: their cells, then the cells after them.
      const auto quad = [&](size_t k) {
        return _mm_unpacklo_epi32(_mm_unpacklo_epi16(word(k), word(k + 1)),
                                  _mm_unpacklo_epi16(word(k + 2), word(k + 3)));
      };
      const __m128i lo = quad(0), hi = quad(4);
      if (second) *second = hn::Vec<DF>{_mm256_cvtph_ps(_mm_unpackhi_epi64(lo, hi))};
      return hn::Vec<DF>{_mm256_cvtph_ps(_mm_unpacklo_epi64(lo, hi))};
    }
  }
#endif
  const auto words = GatherWords<kAt>(di, b, n);
  if (second) {
    if constexpr (sizeof(S) == 2) *second = WordScales<S>(df, hn::ShiftRight<16>(words));
    else *second = WordScales<S>(df, GatherWords<kAt + sizeof(S)>(di, b, n));
  }
  return WordScales<S>(df, words);
}
#endif

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// sum_u bytes_u * usum_u in int32 lanes, for the first NU (8 or 16) unit bytes
// (signed or not) and the units' sums of activation codes: the units' terms of a
// block whose products add up in int32 (MatVecRowUnits, MinProducts).
template <size_t NU, bool kSigned>
HWY_INLINE __m256i UnitProducts(__m128i bytes, const int16_t* HWY_RESTRICT usum) {
  if constexpr (NU == 16) {
    const __m256i words = kSigned ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
    return _mm256_madd_epi16(words, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(usum)));
  } else {
    static_assert(NU == 8, "eight or sixteen units");
    const __m128i words = kSigned ? _mm_cvtepi8_epi16(bytes) : _mm_cvtepu8_epi16(bytes);
    return _mm256_zextsi128_si256(_mm_madd_epi16(words, _mm_loadu_si128(reinterpret_cast<const __m128i*>(usum))));
  }
}
#endif

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

// out[i] = float(codes[i]) * scale + add, one rounding (a true FMA where the
// product may be inexact).
template <size_t kCount, typename TCode>
HWY_INLINE void CodesMulAdd(const TCode* HWY_RESTRICT codes, float scale, float add, float* HWY_RESTRICT out) {
  const hn::CappedTag<float, PowerOfTwoIn(kCount)> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<TCode, decltype(df)> dc;
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

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// hn::Combine without the zero extension of the lower half that Highway 1.0 spends a
// register move on (the insert writes the upper half anyway).
template <class D>
HWY_INLINE hn::Vec<D> Join(D d, hn::Vec<hn::Half<D>> hi, hn::Vec<hn::Half<D>> lo) {
  if constexpr (hn::MaxLanes(d) * sizeof(hn::TFromD<D>) == 32 && std::is_integral_v<hn::TFromD<D>>) {
    return hn::Vec<D>{_mm256_inserti128_si256(_mm256_castsi128_si256(lo.raw), hi.raw, 1)};
#if HWY_TARGET <= HWY_AVX3
  } else if constexpr (hn::MaxLanes(d) * sizeof(hn::TFromD<D>) == 64 && std::is_integral_v<hn::TFromD<D>>) {
    return hn::Vec<D>{_mm512_inserti64x4(_mm512_castsi256_si512(lo.raw), hi.raw, 1)};
#endif
  } else {
    return hn::Combine(d, hi, lo);
  }
}
#endif

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Whole blocks of 32 weights in vector registers (x86's 256- and 512-bit vectors:
// one or two blocks per vector, 32 lanes each): the 16 bytes of nibbles of each
// block, `stride` bytes apart, in both 128-bit halves of the block's lanes.
template <class D8>
HWY_INLINE hn::Vec<D8> NibbleBytes(D8 d8, const uint8_t* HWY_RESTRICT first, size_t stride) {
  const hn::CappedTag<uint8_t, 32> d32;
  if constexpr (hn::MaxLanes(d8) == 64) return Join(d8, hn::LoadDup128(d32, first + stride), hn::LoadDup128(d32, first));
  else return hn::LoadDup128(d32, first);
}

#if HWY_TARGET == HWY_AVX3_DL
// Eight bytes f(0) .. f(7) in a 64-bit lane, byte j = f(j): vpmultishiftqb's bit
// offsets per output byte, and masks.
template <class Fn>
constexpr int64_t LaneBytes(Fn f) {
  uint64_t lanes = 0;
  for (int j = 0; j < 8; ++j) lanes |= uint64_t(uint8_t(f(j))) << (8 * j);
  return int64_t(lanes);
}
#endif

// The nibbles of NibbleBytes: per block the low nibbles, then the high ones.
// Shifted in 16-bit lanes (x86 has no 8-bit shift), the halves picked by a blend.
template <class D8>
HWY_INLINE hn::Vec<D8> JoinedNibbles(D8 d8, hn::Vec<D8> v) {
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (hn::MaxLanes(d8) == 64) {
    // One vpmultishiftqb: each byte of the odd 128-bit blocks takes the 8 bits from
    // its own bit 4 (wrapping within 64 bits), the even blocks' bytes themselves.
    constexpr int64_t kEven = LaneBytes([](int j) { return 8 * j; }), kOdd = LaneBytes([](int j) { return 8 * j + 4; });
    const __m512i offsets = _mm512_set_epi64(kOdd, kOdd, kEven, kEven, kOdd, kOdd, kEven, kEven);
    return hn::And(hn::Vec<D8>{_mm512_multishift_epi64_epi8(offsets, v.raw)}, hn::Set(d8, 15));
  }
#endif
  const hn::Repartition<uint16_t, D8> d16;
  const auto high = hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, v)));
  return hn::And(hn::OddEvenBlocks(high, v), hn::Set(d8, 15));
}

// The 32 bytes at p in every 32 lanes of d8 (one load, broadcast where d8 has 64).
template <class D8>
HWY_INLINE hn::Vec<D8> HalvesFrom(D8 d8, const uint8_t* HWY_RESTRICT p) {
  if constexpr (hn::MaxLanes(d8) == 64) {
    const hn::Half<D8> dh;
    const auto half = hn::LoadU(dh, p);
    return Join(d8, half, half);
  } else {
    return hn::LoadU(d8, p);
  }
}
// The 32 bytes at p in every 32 lanes of d8, shifted right by kBits * k: field k of
// kBits bits at the bottom of each byte; with 64 lanes the upper 32 hold field k + 1.
// Shifts run in 16-bit lanes (x86 has no byte shifts): the bits that cross into a
// byte from its neighbour lie above the field, and FieldAt clears them.
template <unsigned kBits, class D8>
HWY_INLINE hn::Vec<D8> Fields(D8 d8, const uint8_t* HWY_RESTRICT p, size_t k) {
  const hn::Repartition<uint16_t, D8> d16;
  auto t = hn::ShiftRightSame(hn::BitCast(d16, HalvesFrom(d8, p)), int(kBits * k));
  if constexpr (hn::MaxLanes(d8) == 64) t = hn::ConcatUpperLower(d16, hn::ShiftRight<kBits>(t), t);
  return hn::BitCast(d8, t);
}

// The low kBits bits of each byte of v, moved up by kShift.
template <unsigned kBits, int kShift, class D8>
HWY_INLINE hn::Vec<D8> FieldAt(D8 d8, hn::Vec<D8> v) {
  const hn::Repartition<uint16_t, D8> d16;
  if constexpr (kShift != 0) v = hn::BitCast(d8, hn::ShiftLeft<kShift>(hn::BitCast(d16, v)));
  return hn::And(v, hn::Set(d8, uint8_t(((1u << kBits) - 1) << kShift)));
}

// Field k of kBits bits of each of the bytes at p (d8: up to 32 lanes), at bit kAt of
// its byte and the other bits clear: one shift, left or right, where Fields and
// FieldAt take two. (Zen 1 issues vector shifts on one pipe of four.) The bits that
// a 16-bit shift moves across bytes land outside the field, as in Fields.
template <unsigned kBits, unsigned kAt, class D8>
HWY_INLINE hn::Vec<D8> FieldTo(D8 d8, const uint8_t* HWY_RESTRICT p, size_t k) {
  static_assert(hn::MaxLanes(d8) <= 32 && kAt + kBits <= 8);
  const hn::Repartition<uint16_t, D8> d16;
  const auto w = hn::BitCast(d16, hn::LoadU(d8, p));
  const int from = int(kBits * k);
  const auto t = from < int(kAt) ? hn::ShiftLeftSame(w, int(kAt) - from) : hn::ShiftRightSame(w, from - int(kAt));
  return hn::And(hn::BitCast(d8, t), hn::Set(d8, uint8_t(((1u << kBits) - 1) << kAt)));
}

// The low (high = 0) or high (1) nibble of each byte of v, at the bottom of its byte.
template <class D8>
HWY_INLINE hn::Vec<D8> NibblesOf(D8 d8, hn::Vec<D8> v, size_t high) {
  const hn::Repartition<uint16_t, D8> d16;
  return FieldAt<4, 0>(d8, high ? hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, v))) : v);
}

// The entries of a 16-entry byte table at the 4-bit indices idx (one shuffle per
// 128 bits, the table in each).
template <class D8>
HWY_INLINE hn::Vec<D8> Lookup16(D8 d8, const int8_t* HWY_RESTRICT table, hn::Vec<D8> idx) {
  uint8_t bytes[16];
  std::memcpy(bytes, table, 16);
  return hn::TableLookupBytes(hn::LoadDup128(d8, bytes), idx);
}

// A 32-byte bit array at p in both halves of 64 lanes (16-bit lanes d16), the upper
// half shifted right by kShift: bit b of the lower half and bit b + kShift of the
// upper one land on the same bit, so one shift of the whole serves two runs.
template <int kShift, class D16>
HWY_INLINE hn::Vec<D16> BitArrayHalves(D16 d16, const uint8_t* HWY_RESTRICT p) {
  static_assert(hn::MaxLanes(d16) == 32, "64 bytes");
  const hn::Half<D16> dh;
  const auto h = hn::BitCast(dh, hn::LoadU(hn::Repartition<uint8_t, decltype(dh)>(), p));
  return Join(d16, hn::ShiftRight<kShift>(h), h);
}
#endif

// SplitNibbles into one array (out: the low nibbles, then the high ones), with one
// store where a vector holds both halves: the matvec loads the codes of a unit (up
// to 32) with one load, which must not span two stores (no store forwarding then).
template <size_t kBytes>
HWY_INLINE void SplitNibblesJoined(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out) {
#if HWY_TARGET != HWY_SCALAR
  if constexpr (kBytes == 8 || kBytes == 16) {
    const hn::CappedTag<uint8_t, 2 * kBytes> d8;
    const hn::Half<decltype(d8)> dh;
    if (hn::Lanes(d8) == 2 * kBytes) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
      if constexpr (kBytes == 16) {
        hn::StoreU(JoinedNibbles(d8, NibbleBytes(d8, in, 0)), d8, out);
        return;
      }
#endif
      const auto v = hn::LoadU(dh, in);
      hn::StoreU(hn::And(hn::Combine(d8, hn::ShiftRight<4>(v), v), hn::Set(d8, 15)), d8, out);
      return;
    }
  }
#endif
  SplitNibbles<kBytes>(in, out, out + kBytes);
}

#if HWY_TARGET != HWY_SCALAR
// Four bit bytes p[0..3] as one 32-bit word in every lane of d32.
template <class D32>
HWY_INLINE hn::Vec<D32> BitWord(D32 d32, const uint8_t* HWY_RESTRICT p) {
  return hn::Set(d32, uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
}
// The words of `low` in the lower half of d32's lanes, those of `high` in the upper.
template <class D32>
HWY_INLINE hn::Vec<D32> BitWords(D32 d32, const uint8_t* HWY_RESTRICT low, const uint8_t* HWY_RESTRICT high) {
  const hn::Half<D32> dh;
  return hn::Combine(d32, BitWord(dh, high), BitWord(dh, low));
}

// Byte lane l of a block's 32 fifth bits takes byte l / 8 of their word: the spread
// of FifthBits (two blocks in 64 lanes), whose first 16 bytes serve 16 lanes.
alignas(64) inline constexpr uint8_t kFifthBitSpread[64] = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3,
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};

// 16 in byte lane l where bit l % 8 of byte spread[l] of its 128 bits of `words` is
// set, else 0: each lane picks a byte (byte lookups stay within 128-bit blocks) and
// tests its own bit. `spread`: Lanes(d8) bytes, aligned for a vector load.
template <class D8>
HWY_INLINE hn::Vec<D8> SixteenWhereBit(D8 d8, hn::Vec<hn::Repartition<uint32_t, D8>> words,
                                       const uint8_t* HWY_RESTRICT spread) {
  alignas(64) static constexpr uint8_t kBit[64] = {
      1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
      1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const auto set = hn::TestBit(hn::TableLookupBytes(hn::BitCast(d8, words), hn::Load(d8, spread)), hn::Load(d8, kBit));
  return hn::IfThenElseZero(set, hn::Set(d8, 16));
}

// 16 in lane i where bit i % 8 of the block's bits[i / 8] is set, else 0 (the fifth
// bit of 5-bit codes), for one block of 32 lanes or, in 64 lanes, two blocks
// `stride` bytes apart: each block's four bit bytes in every 32-bit lane.
template <class D8>
HWY_INLINE hn::Vec<D8> FifthBits(D8 d8, const uint8_t* HWY_RESTRICT bits, size_t stride) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // AVX-512: the bits are a lane mask as they stand (lane i: bit i % 8 of byte i / 8).
  if constexpr (hn::MaxLanes(d8) == 64) {  // two 32-bit words joined in a general register
    uint32_t low, high;
    std::memcpy(&low, bits, 4), std::memcpy(&high, bits + stride, 4);
    const __mmask64 mask = _cvtu64_mask64(uint64_t{high} << 32 | low);
    return hn::Vec<D8>{_mm512_maskz_mov_epi8(mask, _mm512_set1_epi8(16))};
  }
  uint8_t mask[8];
  std::memcpy(mask, bits, 4);
  (void)stride;
  return hn::IfThenElseZero(hn::LoadMaskBits(d8, mask), hn::Set(d8, 16));
#else
  const hn::Repartition<uint32_t, D8> d32;
  hn::Vec<decltype(d32)> words;
  if constexpr (hn::MaxLanes(d8) == 64) {
    words = BitWords(d32, bits, bits + stride);
  } else {
    words = BitWord(d32, bits);
  }
  return SixteenWhereBit(d8, words, kFifthBitSpread);
#endif
}
#endif

// codes[i] |= 16 where bit i % 8 of bits[i / 8] is set (the fifth bit of 5-bit
// codes). Sixteen codes at a time: their two bit bytes are spread over the lanes
// and each lane tests its own bit, all in registers (a scalar read-modify-write
// of bytes just written by vector stores would stall on store forwarding).
template <size_t kCount>
HWY_INLINE void OrFifthBits(const uint8_t* HWY_RESTRICT bits, uint8_t* HWY_RESTRICT codes) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t i = 0; i < kCount; ++i) codes[i] = uint8_t(codes[i] | ((bits[i / 8] >> (i % 8)) & 1) << 4);
#else
  size_t c = 0;
  if constexpr (kCount % 32 == 0) {  // 32 at a time where vectors have 32 bytes (see SplitNibblesJoined)
    const hn::CappedTag<uint8_t, 32> d8;
    if (hn::Lanes(d8) == 32) {
      for (; c < kCount; c += 32)
        hn::StoreU(hn::Or(hn::LoadU(d8, codes + c), FifthBits(d8, bits + c / 8, 0)), d8, codes + c);
      return;
    }
  }
  const hn::Full128<uint8_t> d8;
  const hn::Repartition<uint16_t, decltype(d8)> d16;
  for (; c + 16 <= kCount; c += 16) {
    const auto pair = hn::Set(d16, uint16_t(bits[c / 8] | bits[c / 8 + 1] << 8));
    const auto sixteen = SixteenWhereBit(d8, hn::BitCast(hn::Repartition<uint32_t, decltype(d8)>(), pair), kFifthBitSpread);
    hn::StoreU(hn::Or(hn::LoadU(d8, codes + c), sixteen), d8, codes + c);
  }
  for (size_t i = c; i < kCount; ++i) codes[i] = uint8_t(codes[i] | ((bits[i / 8] >> (i % 8)) & 1) << 4);
#endif
}

// dst[i] |= src[i] << 4, with the vector width the producers used (see above).
template <size_t kCount>
HWY_INLINE void OrHighNibble(const uint8_t* HWY_RESTRICT src, uint8_t* HWY_RESTRICT dst) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t i = 0; i < kCount; ++i) dst[i] = uint8_t(dst[i] | src[i] << 4);
#else
  const hn::CappedTag<uint8_t, PowerOfTwoIn(kCount)> d8;
  for (size_t i = 0; i < kCount; i += hn::Lanes(d8))
    hn::StoreU(hn::Or(hn::LoadU(d8, dst + i), hn::ShiftLeft<4>(hn::LoadU(d8, src + i))), d8, dst + i);
#endif
}

// codes[l] |= add where bit `bit` of bits[l] is set, for l in [0, kCount).
template <size_t kCount>
HWY_INLINE void OrIfBit(const uint8_t* HWY_RESTRICT bits, unsigned bit, uint8_t add, uint8_t* HWY_RESTRICT codes) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t l = 0; l < kCount; ++l) codes[l] = uint8_t(codes[l] | (((bits[l] >> bit) & 1) ? add : 0));
#else
  const hn::CappedTag<uint8_t, PowerOfTwoIn(kCount)> d8;
  const auto probe = hn::Set(d8, uint8_t(1u << bit)), value = hn::Set(d8, add);
  for (size_t l = 0; l < kCount; l += hn::Lanes(d8)) {
    const auto set = hn::TestBit(hn::LoadU(d8, bits + l), probe);
    hn::StoreU(hn::Or(hn::LoadU(d8, codes + l), hn::IfThenElseZero(set, value)), d8, codes + l);
  }
#endif
}

// out[g][l] = (in[l] >> 2g) & 3 for the four 2-bit planes of kCount bytes
// (q2_K and q3_K codes, q6_K high bits).
template <size_t kCount>
HWY_INLINE void SplitPairs(const uint8_t* HWY_RESTRICT in, uint8_t* HWY_RESTRICT out0, uint8_t* HWY_RESTRICT out1,
                           uint8_t* HWY_RESTRICT out2, uint8_t* HWY_RESTRICT out3) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t l = 0; l < kCount; ++l)
    out0[l] = in[l] & 3, out1[l] = (in[l] >> 2) & 3, out2[l] = (in[l] >> 4) & 3, out3[l] = in[l] >> 6;
#else
  const hn::CappedTag<uint8_t, PowerOfTwoIn(kCount)> d8;
  const auto three = hn::Set(d8, 3);
  for (size_t l = 0; l < kCount; l += hn::Lanes(d8)) {
    const auto v = hn::LoadU(d8, in + l);
    hn::StoreU(hn::And(v, three), d8, out0 + l);
    hn::StoreU(hn::And(hn::ShiftRight<2>(v), three), d8, out1 + l);
    hn::StoreU(hn::And(hn::ShiftRight<4>(v), three), d8, out2 + l);
    hn::StoreU(hn::ShiftRight<6>(v), d8, out3 + l);
  }
#endif
}

// out[i] = table[idx[i]] for 4-bit indices (a byte shuffle where vectors have one).
template <size_t kCount>
HWY_INLINE void LookupNibbles(const int8_t* HWY_RESTRICT table, const uint8_t* HWY_RESTRICT idx, int8_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  for (size_t i = 0; i < kCount; ++i) out[i] = table[idx[i]];
#else
  // The table fits one 128-bit block, repeated in each (byte lookups stay within blocks).
  const hn::CappedTag<uint8_t, PowerOfTwoIn(kCount)> d8;
  const hn::Repartition<int8_t, decltype(d8)> di8;
  uint8_t bytes[16];
  std::memcpy(bytes, table, 16);
  const auto tbl = hn::LoadDup128(d8, bytes);
  for (size_t i = 0; i < kCount; i += hn::Lanes(d8))
    hn::StoreU(hn::BitCast(di8, hn::TableLookupBytes(tbl, hn::LoadU(d8, idx + i))), di8, out + i);
#endif
}

// out[j] = d * float(field(in[j])), negated when kNegate, for kCount sub-block
// scale bytes (the reference's products, in vector lanes).
template <size_t kCount, bool kNegate, class T, class Field>
HWY_INLINE void ScaleBytes(const T* HWY_RESTRICT in, float d, float* HWY_RESTRICT out, Field field) {
  const hn::CappedTag<float, kCount> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<T, decltype(df)> dt;
  for (size_t j = 0; j < kCount; j += hn::Lanes(df)) {
    const auto v = hn::Mul(hn::Set(df, d), hn::ConvertTo(df, field(di, hn::PromoteTo(di, hn::LoadU(dt, in + j)))));
    hn::StoreU(kNegate ? hn::Neg(v) : v, df, out + j);
  }
}

// ---------------------------------------------------------------------------
// Integer codecs. Most formats are, per unit of kUnit weights, small integer codes
// with a float scale and an optional float offset:
//   value = scale * (code - kBias)            (kOffset false)
//   value = scale * code + offset             (kOffset true, kBias 0)
// Such a codec only writes codes and scales (Codes); decoding to floats and the
// integer dot products of the matrix kernels derive from that.

template <class C>
struct CodesBuffer {
  HWY_ALIGN typename C::code_t codes[C::kSize];
  HWY_ALIGN float scale[C::kSize / C::kUnit];
  HWY_ALIGN float offset[C::kOffset ? C::kSize / C::kUnit : 1];
};

// The float decode of an integer codec, in the reference's operation order.
template <class C, class Block>
HWY_INLINE void DecodeCodes(const Block& b, float* HWY_RESTRICT out) {
  CodesBuffer<C> buf;
  C::Codes(b, buf);
  for (size_t u = 0; u < C::kSize / C::kUnit; ++u) {
    if constexpr (C::kOffset) CodesMulAdd<C::kUnit>(buf.codes + u * C::kUnit, buf.scale[u], buf.offset[u], out + u * C::kUnit);
    else CodesTimesScale<C::kUnit>(buf.codes + u * C::kUnit, C::kBias, buf.scale[u], out + u * C::kUnit);
  }
}

// Members shared by the integer codecs, the float decode among them.
template <class F, class Code, size_t Unit, int Bias, bool Offset>
struct IntegerCodec {
  static constexpr bool kInteger = true, kOffset = Offset;
  // Unsigned codes may reach 255 (8-bit affine): the int8 dot products then take
  // them as code - 128, as the widest unsigned operand they can multiply is 7 bits.
  static constexpr bool kWide = false;
  // Whether Codes stores the unit scales (and offsets) with vector stores, so that the
  // matvec may load them as vectors (loads of scalar stores wait for them).
  static constexpr bool kVectorScales = false;
  // Whether the matvec may decode runs of whole blocks in registers: blocks of one
  // unit of 32 weights whose codec has RunCodes and RunScales.
  static constexpr bool kRuns = false;
  // The flip (xor) of every byte that the codes of RunCodes and CodeVector have
  // already taken (see TableCodec; the dot products' operand: DotOperand).
  static constexpr uint32_t kFlipped = 0;
  // Whether the codec has CodeVector: a vector of its codes in registers (see q4_K).
  static constexpr bool kVectorCodes = false;
  // Whether the codec has ScaledCodes (see q2_K): for blocks whose unit scales are
  // small integers under a float super-scale, CodeVector's vectors with each code
  // already times its unit's integer scale, so that a block's dot products add up in
  // int32 when its activations share one step. RunSuperScales gives up to sixteen
  // blocks' float scales (and their mins' scales), and the units' terms against their
  // activation sums are a constant bias kScaledBias per code or MinProducts.
  static constexpr bool kScaledCodes = false;
  // Whether the codec has UnitScaleBytes (see q4_K): for blocks of CodeVector's codes
  // whose unit scales and mins are small integers under float super-scales, and whose
  // int32 dot lanes stay below 2^15, so that each lane times its unit's scale adds up
  // in int32 as scaled codes do (with RunSuperScales; the mins' terms in MinProducts).
  static constexpr bool kUnitScaleBytes = false;
  // With UnitScaleBytes: whether the int32 dot lanes may pass 2^15 (table codes of
  // up to 127 in magnitude), so that each lane meets its unit's scale in an int32
  // multiply (vpmulld) instead.
  static constexpr bool kWideUnitLanes = false;
  // With scaled codes: what ScaledCodes adds to every code (its term: kScaledBias
  // times the activations' sum).
  static constexpr int kScaledBias = 0;
  // Whether the codec has UnitBytes (AVX2; see q2_K): for blocks of CodeVector's
  // codes with small integer unit scales (and mins) under float super-scales, their
  // bytes, so that the int16 pair sums of a code vector meet their unit scale in the
  // second multiply (vpmaddwd) and a block's dot products add up in int32; signed
  // scales (kSignedUnitScales) as int8. On AVX3_DL kSignedUnitScales says the same of
  // UnitScaleBytes (widened with their sign; kWideUnitLanes widens its own).
  static constexpr bool kUnitBytes = false, kSignedUnitScales = false;
  // Which 16-weight run of the block code run k of CodeVector's vectors of `lanes`
  // codes holds: the matvec puts the activations in that order once per pass.
  static constexpr size_t CodeRun(size_t /*lanes*/, size_t k) { return k; }
  static constexpr size_t kSize = F::block_size, kUnit = Unit;
  static constexpr int kBias = Bias;
  using code_t = Code;
  // The largest magnitude of a code (as Codes stores it, before any flip): what
  // bounds the int16 sums of the dot products where they add up before widening.
  // Codecs whose codes have fewer bits say so.
  static constexpr int kCodeMax = std::is_signed_v<Code> ? 128 : 255;
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
    DecodeCodes<Codec<F>>(b, out);
  }
};

// The codes of symmetric<> and affine<> blocks (code_planes' layout).
template <unsigned Bits, size_t G, class Block, class Code>
HWY_INLINE void PlaneCodes(const Block& b, Code* HWY_RESTRICT codes) {
  if constexpr (Bits == 8) {
    std::memcpy(codes, b.qs, G);
  } else {
    SplitNibblesJoined<G / 2>(b.qs, codes);
    if constexpr (Bits == 5) OrFifthBits<G>(b.qh, codes);
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// The 16 bytes of nibbles of four blocks kStride bytes apart, one block per 128 bits:
// a load and an insert per block. (One byte permute of two 64-byte loads instead ran
// 25% faster with the weights in L2, but 40% slower from memory: on Zen 5 loads of
// 64 bytes across cache lines cost more from memory than four of 16 bytes.)
template <size_t kStride, class D8>
HWY_INLINE hn::Vec<D8> GroupBytes(D8 d8, const uint8_t* HWY_RESTRICT qs) {
  static_assert(hn::MaxLanes(d8) == 64 || hn::MaxLanes(d8) == 32, "quarters of 512 bits, halves of 256");
  const hn::Full128<uint8_t> d16;
  if constexpr (hn::MaxLanes(d8) == 32) {
    return Join(d8, hn::LoadU(d16, qs + kStride), hn::LoadU(d16, qs));
  } else {
    const hn::Half<D8> dh;
    return Join(d8, Join(dh, hn::LoadU(d16, qs + 3 * kStride), hn::LoadU(d16, qs + 2 * kStride)),
                Join(dh, hn::LoadU(d16, qs + kStride), hn::LoadU(d16, qs)));
  }
}

// Runs of blocks of 32 weights in registers (RunCodes), vector `half` of a group of
// kGroup blocks kStride bytes apart. One block (32 lanes) or two (64) in weight
// order: each block's 16 bytes of nibbles in both halves of its lanes, low and high
// picked by a blend. Halves (two blocks on 32 lanes, four on 64): vector `half`
// holds the first (0) or the last (1) 16 weights of each, one block per 128 bits,
// their low or high nibbles: one load per block and no blend (the matvec puts the
// activations in that order: ToRunOrder).
template <size_t kGroup, size_t kStride, class D8>
HWY_INLINE hn::Vec<D8> RunNibbles(D8 d8, const uint8_t* HWY_RESTRICT qs, size_t half) {
  if constexpr (kGroup == hn::MaxLanes(d8) / 16) {
    return NibblesOf(d8, GroupBytes<kStride>(d8, qs), half);
  } else {
    static_assert(kGroup == hn::MaxLanes(d8) / 32, "whole blocks per vector");
    (void)half;
    return JoinedNibbles(d8, NibbleBytes(d8, qs, kStride));
  }
}

// What a run's RunCodes need besides each group's bytes (RunBits): nothing, or for
// 5-bit codes in halves of groups on AVX3_DL the fifth-bit words of the run's
// blocks (AVX2 reads each pair's from the blocks: PairFifthBits).
struct NoRunBits {};

// How many blocks apart the blocks of a group of halves lie in a run. With 64 lanes
// four consecutive ones; with 32 lanes blocks k and k + 4 of a run of eight, so that
// the four pairs' int32 sums, added up per 128 bits, come out in block order and
// meet the run's scales as they are gathered (MatVecRowRuns; a permute of the scales
// took the multiply pipe's time on Zen 1).
template <class D8>
inline constexpr size_t kRunStride = hn::MaxLanes(D8()) == 32 ? 4 : 1;

#if HWY_TARGET == HWY_AVX3_DL
// 16 in the lanes of vector `half` of the group of four 5-bit blocks from block g of
// a run (RunNibbles' halves) whose fifth bit is set; `words`: the run's fifth-bit
// words, one per block. Quarter q takes block g + q's word (vpermd) and each byte
// lane picks its bit, 16 * half + lane % 16 (vpshufbitqmb).
template <class D8, class V32>
HWY_INLINE hn::Vec<D8> GroupFifthBits(D8, V32 words, size_t g, size_t half) {
  alignas(64) static constexpr int32_t kQuarter[16] = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  alignas(64) static constexpr auto kBit = [] {
    std::array<uint8_t, 128> bit{};
    for (size_t h = 0; h < 2; ++h)
      for (size_t l = 0; l < 64; ++l) bit[64 * h + l] = uint8_t(16 * h + l % 16);
    return bit;
  }();
  const __m512i index = _mm512_add_epi32(_mm512_load_si512(kQuarter), _mm512_set1_epi32(int32_t(g)));
  const __m512i spread = _mm512_permutexvar_epi32(index, words.raw);
  const __mmask64 mask = _mm512_bitshuffle_epi64_mask(spread, _mm512_load_si512(kBit.data() + 64 * half));
  return hn::Vec<D8>{_mm512_maskz_mov_epi8(mask, _mm512_set1_epi8(16))};
}
#endif

#if HWY_TARGET == HWY_AVX2
// The same for a pair of blocks on 32 lanes, from their fifth-bit words: the low 128
// bits take qh0's word, the high ones qh1's (each loaded from its block and broadcast
// in its half: a permute of gathered words takes the multiply pipe's time on Zen 1),
// each byte lane the word's byte 2 half + lane % 16 / 8.
template <class D8>
HWY_INLINE hn::Vec<D8> PairFifthBits(D8 d8, const uint8_t* HWY_RESTRICT qh0, const uint8_t* HWY_RESTRICT qh1, size_t half) {
  alignas(32) static constexpr uint8_t kSpread[2][32] = {
      {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}};
  return SixteenWhereBit(d8, BitWords(hn::Repartition<uint32_t, D8>(), qh0, qh1), kSpread[half]);
}
#endif

// RunCodes of blocks of 32 4- or 5-bit codes in planes (qs, and qh for the fifth
// bits): symmetric and affine. kRunGroup: 4-bit codes in halves of groups (four
// blocks on 64 lanes, two on 32: each group's two vectors meet the same scales
// once); 5-bit codes too where GroupFifthBits or PairFifthBits picks their fifth
// bits (AVX3_DL's vpshufbitqmb, AVX2's compares), else in whole blocks, whose fifth
// bits are a lane mask as stored.
template <unsigned Bits, class Block>
struct PlaneRuns {
  template <class D8>
  static constexpr bool kFifthBitGroups =
      Bits == 5 && ((hn::MaxLanes(D8()) == 64 && HWY_TARGET == HWY_AVX3_DL) || (hn::MaxLanes(D8()) == 32 && HWY_TARGET == HWY_AVX2));
  template <class D8>
  static constexpr size_t kRunGroup = Bits == 4 || kFifthBitGroups<D8> ? hn::MaxLanes(D8()) / 16 : hn::MaxLanes(D8()) / 32;
  template <class D8>
  static HWY_INLINE auto RunBits(D8, const Block* HWY_RESTRICT run) {
    if constexpr (kFifthBitGroups<D8> && HWY_TARGET == HWY_AVX3_DL) {
      return GatherWords<offsetof(Block, qh)>(hn::Repartition<int32_t, D8>(), run);
    } else {
      (void)run;
      return NoRunBits{};
    }
  }
  // Vector `half` of the group from block g of a run.
  template <class D8, class RB>
  static HWY_INLINE hn::Vec<D8> RunCodes(D8 d8, const Block* HWY_RESTRICT run, size_t g, size_t half, const RB& bits) {
    (void)bits;
    if constexpr (Bits == 8) {
      (void)half;
      return hn::BitCast(d8, hn::LoadU(hn::Repartition<int8_t, D8>(), run[g].qs));
    } else {
      const auto codes = RunNibbles<kRunGroup<D8>, kRunStride<D8> * sizeof(Block)>(d8, run[g].qs, half);
      if constexpr (Bits == 4) return codes;
#if HWY_TARGET == HWY_AVX3_DL
      else if constexpr (kFifthBitGroups<D8>) return hn::Or(codes, GroupFifthBits(d8, bits, g, half));
#elif HWY_TARGET == HWY_AVX2
      else if constexpr (kFifthBitGroups<D8>) return hn::Or(codes, PairFifthBits(d8, run[g].qh, run[g + kRunStride<D8>].qh, half));
#endif
      else return hn::Or(codes, FifthBits(d8, run[g].qh, sizeof(Block)));
    }
  }
};

#if HWY_TARGET == HWY_AVX3_DL
// The table's values of the low (high = 0) or high nibbles of `bytes`: vpermb reads
// six index bits, and with the table in all four quarters of a vector the bits above
// each nibble need no mask.
template <class D8>
HWY_INLINE hn::Vec<D8> TableQuarters(D8 d8, const int8_t* HWY_RESTRICT table, hn::Vec<D8> bytes, size_t high) {
  const hn::Repartition<uint16_t, D8> d16;
  const auto index = high ? hn::BitCast(d8, hn::ShiftRight<4>(hn::BitCast(d16, bytes))) : bytes;
  return hn::Vec<D8>{_mm512_permutexvar_epi8(index.raw, _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table))))};
}
#endif

// The table's values of the 4-bit indices of a group of RunNibbles (iq4_nl and
// mxfp4 blocks in groups of four on 64 lanes; with 32 lanes iq4_xs sub-blocks too).
template <size_t kGroup, size_t kStride, class D8>
HWY_INLINE hn::Vec<D8> TableRun(D8 d8, const int8_t* HWY_RESTRICT table, const uint8_t* HWY_RESTRICT qs, size_t half) {
#if HWY_TARGET == HWY_AVX3_DL
  if constexpr (kGroup == 4) return TableQuarters(d8, table, GroupBytes<kStride>(d8, qs), half);
#endif
  return Lookup16(d8, table, RunNibbles<kGroup, kStride>(d8, qs, half));
}

// Where the dot instruction takes unsigned codes (DotOperand: + 128, a flip of the
// top bit), the tables that codes come from in registers hold them so (kFlipped).
#if HWY_TARGET == HWY_AVX3_DL
inline constexpr uint32_t kTableFlip = 0x80808080u;
#else
inline constexpr uint32_t kTableFlip = 0;
#endif
#else
template <unsigned Bits, class Block>
struct PlaneRuns {};
#endif

// symmetric<Bits, G, Scale>: q4_0, q5_0, q8_0 and the generic instances.
template <unsigned Bits, size_t G, class Scale>
struct Codec<symmetric<Bits, G, Scale>>
    : IntegerCodec<symmetric<Bits, G, Scale>, std::conditional_t<Bits == 8, int8_t, uint8_t>, PowerOfTwoIn(G),
                   Bits == 8 ? 0 : -symmetric<Bits, G, Scale>::qmin, false>,
      PlaneRuns<Bits, typename symmetric<Bits, G, Scale>::block> {
  using F = symmetric<Bits, G, Scale>;
  static constexpr int kCodeMax = Bits == 8 ? 128 : (1 << Bits) - 1;
  template <class Buf>
  static HWY_INLINE void Codes(const typename F::block& b, Buf& buf) {
    PlaneCodes<Bits, G>(b, buf.codes);
    static_assert(offsetof(typename F::block, d) == 0);
    const float d = LeadingScale<0>(b, b.d);
    for (auto& sc : buf.scale) sc = d;
  }
  // 8-bit codes need no unpacking: on AVX-512 (Zen 5) q8_0's matvec from memory
  // measured slower in runs (21-30 GB/s against 26-35 block by block, alternated),
  // on AVX2 (Zen 1) 22-27% faster.
  static constexpr bool kRuns = G == 32 && (Bits != 8 || HWY_TARGET == HWY_AVX2);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunScales(DF df, const typename F::block* HWY_RESTRICT b, hn::Vec<DF>&) {
    return BlockScales<Scale, 0>(df, b, hn::MaxLanes(df));
  }
#endif
};

// affine<Bits, G, Scale>: q4_1, q5_1 and the generic instances. An f32 scale's
// products are inexact: its decode needs a true FMA to match the specification, and
// without one the scalar reference decodes.
template <unsigned Bits, size_t G, class Scale>
struct Codec<affine<Bits, G, Scale>> : IntegerCodec<affine<Bits, G, Scale>, uint8_t, PowerOfTwoIn(G), 0, true>,
                                       PlaneRuns<Bits, typename affine<Bits, G, Scale>::block> {
  using F = affine<Bits, G, Scale>;
  static constexpr bool kWide = Bits == 8;
  static constexpr int kCodeMax = kWide ? 128 : (1 << Bits) - 1;  // wide: taken as code - 128
  // f32 scales decode in SIMD only with a true FMA.
  static constexpr bool kSimd = HWY_NATIVE_FMA || !std::is_same_v<Scale, f32>;
  template <class Buf>
  static HWY_INLINE void Codes(const typename F::block& b, Buf& buf) {
    PlaneCodes<Bits, G>(b, buf.codes);
    static_assert(offsetof(typename F::block, d) == 0 && offsetof(typename F::block, m) == sizeof(Scale));
    const float d = LeadingScale<0>(b, b.d), m = LeadingScale<1>(b, b.m);
    for (auto& sc : buf.scale) sc = d;
    for (auto& mn : buf.offset) mn = m;
  }
  static constexpr bool kRuns = G == 32 && Bits != 8;  // as symmetric's
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunScales(DF df, const typename F::block* HWY_RESTRICT b, hn::Vec<DF>& offset) {
    static_assert(offsetof(typename F::block, d) == 0 && offsetof(typename F::block, m) == sizeof(Scale));
    return BlockScales<Scale, 0>(df, b, hn::MaxLanes(df), &offset);
  }
#endif
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
    if constexpr (kSimd) DecodeCodes<Codec>(b, out);
    else F::decode(b, out);
  }
};

// Code-table formats whose table holds small integers: the codes are the table's
// int8 values (reference: scale * float(value); the product commutes exactly).
// TableCodes: the 32 values of 16 bytes of indices in GGUF's nibble order.
HWY_INLINE void TableCodes(const int8_t* HWY_RESTRICT table, const uint8_t* HWY_RESTRICT qs, int8_t* HWY_RESTRICT codes) {
  HWY_ALIGN uint8_t idx[32];
  SplitNibblesJoined<16>(qs, idx);
  LookupNibbles<32>(table, idx, codes);
}

// A table's bytes as codes: (value + kAdd) ^ kFlip, each as a byte.
template <const int8_t (&kTable)[16], int kAdd, uint32_t kFlip>
inline constexpr auto kShiftedTable = [] {
  std::array<int8_t, 16> table{};
  for (size_t i = 0; i < 16; ++i) table[i] = int8_t(uint8_t(kTable[i] + kAdd) ^ uint8_t(kFlip));
  return table;
}();
template <const int8_t (&kTable)[16]>
inline constexpr int kTableLeast = *std::min_element(kTable, kTable + 16);
template <const int8_t (&kTable)[16]>
inline constexpr int kTableSpan = *std::max_element(kTable, kTable + 16) - kTableLeast<kTable>;

// Where the dot product multiplies unsigned weight bytes by signed ones into int16
// pair sums (x86 without VNNI), a table whose values span at most 128 (mxfp4: -12 to
// 12) holds them moved up by its least value: unsigned codes then need no sign moves
// (vpsignb, vpabsb per vector), and small ones let pair sums of several steps add up
// before they widen, as 4- and 5-bit codes do; their bias is one multiply-add per
// unit against the activations' sum. Other targets (and wider tables) keep the
// signed values.
template <const int8_t (&kTable)[16]>
inline constexpr int kTableBias =
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3 && HWY_TARGET > HWY_AVX3_DL  // no VNNI
    kTableSpan<kTable> <= 128 ? -kTableLeast<kTable> : 0;
#else
    0;
#endif

// The codecs of 16-entry tables of small integers (iq4_nl, mxfp4); the format's
// codec adds BlockScale (and RunScales). Codes: the table's values, or with a
// kTableBias the unsigned codes value + bias.
template <class F, const int8_t (&kTable)[16], int Bias = kTableBias<kTable>>
struct TableCodec : IntegerCodec<F, std::conditional_t<Bias != 0, uint8_t, int8_t>, 32, Bias, false> {
  static constexpr bool kRuns = true;
  static constexpr int kCodeMax = Bias != 0 ? kTableSpan<kTable> : 128;
  template <class Buf>
  static HWY_INLINE void Codes(const typename F::block& b, Buf& buf) {
    TableCodes(kShiftedTable<kTable, Bias, 0>.data(), b.qs, reinterpret_cast<int8_t*>(buf.codes));
    buf.scale[0] = Codec<F>::BlockScale(b);
  }
  // The float decode from the table's values themselves: no bias to take off.
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
    HWY_ALIGN int8_t values[32];
    TableCodes(kTable, b.qs, values);
    CodesTimesScale<32>(values, 0, Codec<F>::BlockScale(b), out);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static_assert(Bias == 0 || kTableFlip == 0, "biased codes are unsigned already: no target flips them");
  static constexpr uint32_t kFlipped = kTableFlip;
  static constexpr auto kRunTable = kShiftedTable<kTable, Bias, kTableFlip>;
  template <class D8>
  static constexpr size_t kRunGroup = hn::MaxLanes(D8()) / 16;
  template <class D8>
  static HWY_INLINE NoRunBits RunBits(D8, const typename F::block*) {
    return {};
  }
  template <class D8>
  static HWY_INLINE hn::Vec<D8> RunCodes(D8 d8, const typename F::block* HWY_RESTRICT run, size_t g, size_t half,
                                         NoRunBits) {
    return TableRun<kRunGroup<D8>, kRunStride<D8> * sizeof(*run)>(d8, kRunTable.data(), run[g].qs, half);
  }
#endif
};

template <>
struct Codec<iq4_nl> : TableCodec<iq4_nl, detail::kv_nl> {
  static HWY_INLINE float BlockScale(const iq4_nl::block& b) {
    static_assert(offsetof(iq4_nl::block, d) == 0);
    return LeadingScale<0>(b, b.d);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunScales(DF df, const iq4_nl::block* HWY_RESTRICT b, hn::Vec<DF>&) {
    return BlockScales<f16, 0>(df, b, hn::MaxLanes(df));
  }
#endif
};

template <>
struct Codec<mxfp4> : TableCodec<mxfp4, detail::kv_fp4> {
  static HWY_INLINE float BlockScale(const mxfp4::block& b) { return e8m0_half_to_f32(b.e); }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  // e8m0_half_to_f32 in lanes: 2^(e - 128), as the f32 bits (e - 1) << 23, or for
  // e < 2 the subnormal bits 0x200000 << e = 0x200000 * (e + 1).
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunScales(DF df, const mxfp4::block* HWY_RESTRICT b, hn::Vec<DF>&) {
    const hn::RebindToSigned<DF> di;
    const auto e = hn::And(GatherWords<0>(di, b), hn::Set(di, 255));
    const auto one = hn::Set(di, 1);
    const auto normal = hn::ShiftLeft<23>(hn::Sub(e, one));
    const auto tiny = hn::Mul(hn::Add(e, one), hn::Set(di, 0x200000));
    return hn::BitCast(df, hn::IfThenElse(hn::Lt(e, hn::Set(di, 2)), tiny, normal));
  }
#endif
};

template <>
struct Codec<iq4_xs> : IntegerCodec<iq4_xs, int8_t, 32, 0, false> {
  static constexpr bool kVectorScales = true;
  template <class Buf>
  static HWY_INLINE void Codes(const iq4_xs::block& b, Buf& buf) {
    for (int s = 0; s < 8; ++s) TableCodes(detail::kv_nl, b.qs + 16 * s, buf.codes + 32 * s);
    Scales(b, buf);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static constexpr bool kVectorCodes = true;
  static constexpr uint32_t kFlipped = kTableFlip;
  static constexpr auto kTable = kShiftedTable<detail::kv_nl, 0, kTableFlip>;
  // With 32 lanes, sub-block v (16 bytes of nibbles, as an iq4_nl block). With 64 one
  // load of 64 bytes, sub-blocks 4w..4w + 3 (w = v / 2), serves two vectors: their
  // first 16 weights (the low nibbles, v even) and their last 16 (v odd).
  template <class D8>
  static HWY_INLINE hn::Vec<D8> CodeVector(D8 d8, const iq4_xs::block& b, size_t v) {
    if constexpr (hn::MaxLanes(d8) == 64) {
#if HWY_TARGET == HWY_AVX3_DL
      return TableQuarters(d8, kTable.data(), hn::LoadU(d8, b.qs + 64 * (v / 2)), v % 2);
#else
      return Lookup16(d8, kTable.data(), NibblesOf(d8, hn::LoadU(d8, b.qs + 64 * (v / 2)), v % 2));
#endif
    } else {
      return TableRun<1, 16>(d8, kTable.data(), b.qs + 16 * v, 0);
    }
  }
  static constexpr size_t CodeRun(size_t lanes, size_t k) {
    return lanes == 64 ? 2 * (4 * (k / 8) + k % 4) + (k / 4) % 2 : k;
  }
#endif
  // The eight scales + 32, byte s of a word, by word operations (little-endian):
  // the low nibbles of scales_l are the even sub-blocks' low four bits, the high
  // nibbles the odd ones'; bits 2s, 2s + 1 of scales_h the high two bits of sub-block
  // s. Each spread to one byte per sub-block.
  static HWY_INLINE uint64_t BiasedScaleWord(const iq4_xs::block& b) {
    uint32_t low;
    std::memcpy(&low, b.scales_l, 4);
    const auto bytes_to_even = [](uint64_t v) {  // byte k to byte 2k
      v = (v | v << 16) & 0x0000FFFF0000FFFFull;
      return (v | v << 8) & 0x00FF00FF00FF00FFull;
    };
    uint64_t high = b.scales_h.get();  // field k (two bits) to byte k
    high = (high | high << 24) & 0x000000FF000000FFull;
    high = (high | high << 12) & 0x000F000F000F000Full;
    high = (high | high << 6) & 0x0303030303030303ull;
    return bytes_to_even(low & 0x0F0F0F0Fu) | bytes_to_even((low >> 4) & 0x0F0F0F0Fu) << 8 | high << 4;
  }
#if HWY_TARGET == HWY_AVX2
  static constexpr bool kUnitBytes = true, kSignedUnitScales = true;
  static HWY_INLINE void UnitBytes(const iq4_xs::block& b, __m128i& scales, __m128i&, float& d, float&) {
    scales = _mm_sub_epi8(_mm_cvtsi64_si128(int64_t(BiasedScaleWord(b))), _mm_set1_epi8(32));
    d = ScaleOf(b.d);
  }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  // The eight scales + 32 in bytes 0-7, from the block's first 8 bytes (vpmultishiftqb:
  // 8 bits from any bit offset): the low nibble from scales_l (bit 32 + 4s), the high
  // two bits from scales_h (bit 16 + 2s, taken from 12 + 2s to land on bits 4 and 5).
  static HWY_INLINE __m128i BiasedScaleBytes(const iq4_xs::block& b) {
    constexpr auto kOffsets = [](int first, int step) { return LaneBytes([=](int s) { return first + step * s; }); };
    static_assert(offsetof(iq4_xs::block, d) == 0 && offsetof(iq4_xs::block, scales_h) == 2 &&
                  offsetof(iq4_xs::block, scales_l) == 4);
    int64_t head;
    std::memcpy(&head, &b, 8);
    const __m128i v = _mm_set1_epi64x(head);
    const __m128i low = _mm_and_si128(_mm_multishift_epi64_epi8(_mm_set1_epi64x(kOffsets(32, 4)), v), _mm_set1_epi8(0x0F));
    return _mm_ternarylogic_epi64(low, _mm_multishift_epi64_epi8(_mm_set1_epi64x(kOffsets(12, 2)), v), _mm_set1_epi8(0x30), 0xF8);
  }
  // Table codes of up to 127 in magnitude (+ 128: kFlipped): four per lane pass 2^15.
  static constexpr bool kUnitScaleBytes = true, kWideUnitLanes = true;
  static HWY_INLINE __m128i UnitScaleBytes(const iq4_xs::block& b) {
    return _mm_sub_epi8(BiasedScaleBytes(b), _mm_set1_epi8(32));
  }
  // The d of n <= 16 blocks, and 128 d in `minor`: the codes' flip (+ 128) is the minor
  // term, against sum_u sc_u usum_u (MinProducts).
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunSuperScales(DF df, const iq4_xs::block* HWY_RESTRICT b, size_t n, hn::Vec<DF>& minor) {
    const auto d = BlockScales<f16, offsetof(iq4_xs::block, d)>(df, b, n);
    minor = hn::Mul(d, hn::Set(df, 128.f));
    return d;
  }
  static HWY_INLINE __m256i MinProducts(__m128i scale_bytes, const int16_t* HWY_RESTRICT usum) {
    return UnitProducts<8, true>(scale_bytes, usum);
  }
#endif
  template <class Buf>
  static HWY_INLINE void Scales(const iq4_xs::block& b, Buf& buf) {
#if HWY_TARGET == HWY_AVX3_DL
    const __m128i biased = BiasedScaleBytes(b);
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(biased), _mm256_set1_epi32(32)));
    _mm256_store_ps(buf.scale, _mm256_mul_ps(sc, _mm256_set1_ps(LeadingScale<0>(b, b.d))));
#else
    alignas(8) uint8_t sc[8];  // scale + 32
    if constexpr (std::endian::native == std::endian::little) {
      const uint64_t scales = BiasedScaleWord(b);  // one 8-byte store
      std::memcpy(sc, &scales, 8);
    } else {
      for (int s = 0; s < 8; ++s) sc[s] = uint8_t(iq4_xs::scale(b, s));
    }
    ScaleBytes<8, false>(sc, ScaleOf(b.d), buf.scale, [](auto di, auto v) { return hn::Sub(v, hn::Set(di, 32)); });
#endif
  }
};

// q4_K / q5_K: per 64 weights, 32 bytes whose low nibbles are the first sub-block
// of 32 and high nibbles the second; value = (d * sc) * q - (dmin * mn).
template <class F>
struct ScaleMinCodec : IntegerCodec<F, uint8_t, 32, 0, true> {
  static constexpr bool kVectorScales = true;
  static constexpr int kCodeMax = std::is_same_v<F, q5_k> ? 31 : 15;
  template <class Buf>
  static HWY_INLINE void Codes(const typename F::block& b, Buf& buf) {
    for (int c = 0; c < 4; ++c) {
      uint8_t* codes = buf.codes + 64 * c;
      SplitNibbles<32>(b.qs + 32 * c, codes, codes + 32);
      if constexpr (std::is_same_v<F, q5_k>) {  // bit s of qh[l]: sub-block s, weight l
        OrIfBit<32>(b.qh, unsigned(2 * c), 16, codes);
        OrIfBit<32>(b.qh, unsigned(2 * c + 1), 16, codes + 32);
      }
    }
    Scales(b, buf);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static constexpr bool kVectorCodes = true;
  // Codes [v L, v L + L) in registers, L = Lanes(d8) (32 or 64): per 32 lanes one
  // sub-block s = v L / 32 + k, the low (s even) or high nibbles of qs[32 (s / 2) ...],
  // and for q5_K bit s of qh[...].
  //
  // With 64 lanes one load of 64 bytes (sub-blocks 4w..4w + 3, w = v / 2) serves two
  // vectors: the low nibbles (v even: sub-blocks 4w and 4w + 2) and the high ones
  // (4w + 1 and 4w + 3), in the order CodeRun gives the matvec's activations.
  template <class D8>
  static HWY_INLINE hn::Vec<D8> CodeVector(D8 d8, const typename F::block& b, size_t v) {
    if constexpr (hn::MaxLanes(d8) == 64) {
      const auto codes = NibblesOf(d8, hn::LoadU(d8, b.qs + 64 * (v / 2)), v % 2);
      if constexpr (std::is_same_v<F, q5_k>) {
        // Bits s and s + 2 of qh for the two runs s = 4w + v % 2 and s + 2.
        const auto both = BitArrayHalves<2>(hn::Repartition<uint16_t, D8>(), b.qh);
        return hn::Or(codes, FieldAt<1, 4>(d8, hn::BitCast(d8, hn::ShiftRightSame(both, int(4 * (v / 2) + v % 2)))));
      } else {
        return codes;
      }
    } else {
      const size_t s = v * (hn::MaxLanes(d8) / 32);
      const auto codes = FieldAt<4, 0>(d8, Fields<4>(d8, b.qs + 32 * (s / 2), s % 2));
      if constexpr (std::is_same_v<F, q5_k>) return hn::Or(codes, FieldTo<1, 4>(d8, b.qh, s));
      else return codes;
    }
  }
  // With 64 lanes code 32-run r holds sub-block 4 (r / 4) + (r / 2) % 2 + 2 (r % 2).
  static constexpr size_t CodeRun(size_t lanes, size_t k) {
    const size_t r = k / 2;
    return lanes == 64 ? 2 * (4 * (r / 4) + (r / 2) % 2 + 2 * (r % 2)) + k % 2 : k;
  }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  // Codes below 32 times activations of at most 127: four per lane stay below 2^15.
  static constexpr bool kUnitScaleBytes = true;
  // The eight 6-bit scales (bytes 0-7) and mins (8-15) in a vector: each byte picks
  // its fields out of a copy of the scale bytes in its 64 bits (vpmultishiftqb: 8 bits
  // from any bit offset), from bytes 0-7 the whole field or the top two bits (to bits
  // 4 and 5), from bytes 4-11 the low nibble of sub-blocks 4-7.
  static HWY_INLINE __m128i UnitScaleBytes(const typename F::block& b) {
    // Per output byte: the bit offset in bytes 0-7 (`low`) or 4-11, and the mask.
    constexpr auto kField = [](bool low, bool mins, bool mask) {
      return LaneBytes([=](int j) {
        const int at = low ? (j < 4 ? 8 * j + 32 * mins : 8 * (j - 4 + 4 * mins) + 2) : 8 * j + 4 * mins;
        const int bits = low ? (j < 4 ? 0x3F : 0x30) : (j < 4 ? 0 : 0x0F);
        return mask ? bits : at;
      });
    };
    int64_t low, high;
    std::memcpy(&low, b.scales, 8), std::memcpy(&high, b.scales + 4, 8);
    const __m128i part = _mm_and_si128(_mm_multishift_epi64_epi8(_mm_set_epi64x(kField(true, true, false), kField(true, false, false)), _mm_set1_epi64x(low)),
                                       _mm_set_epi64x(kField(true, true, true), kField(true, false, true)));
    const __m128i nibble = _mm_multishift_epi64_epi8(_mm_set_epi64x(kField(false, true, false), kField(false, false, false)), _mm_set1_epi64x(high));
    return _mm_ternarylogic_epi64(part, nibble, _mm_set_epi64x(kField(false, true, true), kField(false, false, true)), 0xF8);
  }
  // The d of n <= 16 blocks, and their dmin in `minor` (the two halves of one word).
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunSuperScales(DF df, const typename F::block* HWY_RESTRICT b, size_t n, hn::Vec<DF>& minor) {
    static_assert(offsetof(typename F::block, d) == 0 && offsetof(typename F::block, dmin) == 2);
    return BlockScales<f16, 0>(df, b, n, &minor);
  }
  // sum_u min_u usum_u in int32 lanes (the lower four), for the mins of UnitScaleBytes
  // and the units' sums of activation codes usum (|usum| <= 32 * 127).
  static HWY_INLINE __m256i MinProducts(__m128i scale_bytes, const int16_t* HWY_RESTRICT usum) {
    const __m128i mins = _mm_unpackhi_epi8(scale_bytes, _mm_setzero_si128());
    return _mm256_zextsi128_si256(_mm_madd_epi16(mins, _mm_loadu_si128(reinterpret_cast<const __m128i*>(usum))));
  }
#endif
  // The 6-bit fields of all eight sub-blocks with word operations (little-endian):
  // bytes 0-3 hold scales 0-3 and the top bits of scales 4-7, bytes 4-7 the same for
  // the mins, bytes 8-11 the low nibbles of scales and mins 4-7. Scale (and min) k
  // in byte k of `scales` (`mins`).
  static HWY_INLINE void ScaleMinWords(const typename F::block& b, uint64_t& scales, uint64_t& mins) {
    uint32_t w[3];
    std::memcpy(w, b.scales, 12);
    const uint32_t six = 0x3F3F3F3Fu, low = 0x0F0F0F0Fu, top = 0x03030303u;
    const uint64_t sc03 = w[0] & six, mn03 = w[1] & six;
    const uint64_t sc47 = (w[2] & low) | ((w[0] >> 6) & top) << 4;
    const uint64_t mn47 = ((w[2] >> 4) & low) | ((w[1] >> 6) & top) << 4;
    scales = sc03 | sc47 << 32, mins = mn03 | mn47 << 32;
  }
#if HWY_TARGET == HWY_AVX2
  static constexpr bool kUnitBytes = true;
  static HWY_INLINE void UnitBytes(const typename F::block& b, __m128i& scales, __m128i& mins, float& d, float& dmin) {
    uint64_t sc, mn;
    ScaleMinWords(b, sc, mn);
    scales = _mm_cvtsi64_si128(int64_t(sc)), mins = _mm_cvtsi64_si128(int64_t(mn));
    d = ScaleOf(b.d), dmin = ScaleOf(b.dmin);
  }
#endif
  template <class Buf>
  static HWY_INLINE void Scales(const typename F::block& b, Buf& buf) {
    const float d = ScaleOf(b.d), dmin = ScaleOf(b.dmin);
    alignas(8) uint8_t sc[8], mn[8];
    if constexpr (std::endian::native == std::endian::little) {
      // One 8-byte store each, so that ScaleBytes' vector loads of them are served from it.
      uint64_t scales, mins;
      ScaleMinWords(b, scales, mins);
      std::memcpy(sc, &scales, 8), std::memcpy(mn, &mins, 8);
    } else {
      for (int s = 0; s < 8; ++s) kq::unpack_scale_min(b.scales, s, sc[s], mn[s]);
    }
    ScaleBytes<8, false>(sc, d, buf.scale, [](auto, auto v) { return v; });
    ScaleBytes<8, true>(mn, dmin, buf.offset, [](auto, auto v) { return v; });
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // q4_K's floats from a table per sub-block: its sixteen values (d sc) q - dmin mn in
  // one vector (the reference's one rounding: the product is exact), picked by each
  // weight's nibble with a lane permute (vpermps reads the low four bits of its
  // index: the low nibbles need no mask, the high ones a shift). Per 16 weights a
  // widening load, the permute and the store, where bytes of codes took a store and a
  // load, a conversion and a multiply-add.
  template <class DF>
  static HWY_INLINE void Decode(DF df, const typename F::block& b, float* HWY_RESTRICT out) {
    if constexpr (std::is_same_v<F, q4_k> && hn::MaxLanes(df) == 16) {
      CodesBuffer<ScaleMinCodec> buf;
      Scales(b, buf);
      const hn::Full128<uint8_t> d16;
      const hn::RebindToSigned<DF> di;
      const auto iota = hn::Iota(df, 0.f);
      for (size_t s = 0; s < 8; ++s) {
        const __m512 table = hn::MulAdd(iota, hn::Set(df, buf.scale[s]), hn::Set(df, buf.offset[s])).raw;
        for (size_t h = 0; h < 2; ++h) {
          auto index = hn::PromoteTo(di, hn::LoadU(d16, b.qs + 32 * (s / 2) + 16 * h));
          if (s % 2) index = hn::ShiftRight<4>(index);
          hn::StoreU(hn::Vec<DF>{_mm512_permutexvar_ps(index.raw, table)}, df, out + 32 * s + 16 * h);
        }
      }
    } else {
      DecodeCodes<ScaleMinCodec>(b, out);
    }
  }
#endif
};
template <>
struct Codec<q4_k> : ScaleMinCodec<q4_k> {};
template <>
struct Codec<q5_k> : ScaleMinCodec<q5_k> {};

// q6_K: per 128 weights, 64 bytes of low nibbles and 32 bytes of 2-bit pairs.
template <>
struct Codec<q6_k> : IntegerCodec<q6_k, uint8_t, 16, 32, false> {
  static constexpr bool kVectorScales = true;
  static constexpr int kCodeMax = 63;
  template <class Buf>
  static HWY_INLINE void Codes(const q6_k::block& b, Buf& buf) {
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      uint8_t* q = buf.codes + 128 * h;
      HWY_ALIGN uint8_t high[128];
      SplitNibbles<32>(ql, q, q + 64);            // groups 0 and 2
      SplitNibbles<32>(ql + 32, q + 32, q + 96);  // groups 1 and 3
      SplitPairs<32>(b.qh + 32 * h, high, high + 32, high + 64, high + 96);
      OrHighNibble<128>(high, q);
    }
    Scales(b, buf);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static constexpr bool kVectorCodes = true;
  // Codes [v L, v L + L) in registers, L = Lanes(d8) (32 or 64). Per 32 lanes, group
  // g = s % 4 of half n = s / 4 (s = v L / 32 + k): nibbles (high for g >= 2) of
  // ql[64 n + 32 (g % 2) ...] and bits 2g, 2g + 1 of qh[32 n ...] above them.
  template <class D8>
  static HWY_INLINE hn::Vec<D8> CodeVector(D8 d8, const q6_k::block& b, size_t v) {
    const hn::Repartition<uint16_t, D8> d16;
    const size_t s = v * (hn::MaxLanes(d8) / 32), n = s / 4, g = s % 4;
    const auto low = hn::ShiftRightSame(hn::BitCast(d16, hn::LoadU(d8, b.ql + 64 * n + 32 * (g % 2))), int(4 * (g / 2)));
    if constexpr (hn::MaxLanes(d8) == 64) {
      // Groups g and g + 1: bits 2g and 2g + 2 of qh[32 n ...] (the upper half shifted
      // once per half block, which two vectors share).
      const auto high = hn::ShiftRightSame(BitArrayHalves<2>(d16, b.qh + 32 * n), int(2 * g));
      return hn::Or(FieldAt<4, 0>(d8, hn::BitCast(d8, low)), FieldAt<2, 4>(d8, hn::BitCast(d8, high)));
    } else {
      return hn::Or(FieldAt<4, 0>(d8, hn::BitCast(d8, low)), FieldTo<2, 4>(d8, b.qh + 32 * n, g));
    }
  }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  // Codes below 64 times activations of at most 127: four per lane stay below 2^15.
  static constexpr bool kUnitScaleBytes = true, kSignedUnitScales = true;
  static HWY_INLINE __m128i UnitScaleBytes(const q6_k::block& b) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
  }
  // The d of n <= 16 blocks, and 32 d in `minor`: the bias of the codes (value =
  // d sc (q - 32)) is the minor term, against sum_u sc_u usum_u (MinProducts). d
  // ends the block: the upper half of its last word (bytes 206-209).
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunSuperScales(DF df, const q6_k::block* HWY_RESTRICT b, size_t n, hn::Vec<DF>& minor) {
    static_assert(offsetof(q6_k::block, d) + 2 == sizeof(q6_k::block));
    const auto words = GatherWords<offsetof(q6_k::block, d) - 2>(hn::RebindToSigned<DF>(), b, n);
    const auto d = WordScales<f16>(df, hn::ShiftRight<16>(words));
    minor = hn::Mul(d, hn::Set(df, 32.f));
    return d;
  }
  // sum_u sc_u usum_u in int32 lanes, for the signed scales of UnitScaleBytes and the
  // units' sums of activation codes usum (|usum| <= 16 * 127).
  static HWY_INLINE __m256i MinProducts(__m128i scale_bytes, const int16_t* HWY_RESTRICT usum) {
    return UnitProducts<16, true>(scale_bytes, usum);
  }
#endif
#if HWY_TARGET == HWY_AVX2
  static constexpr bool kUnitBytes = true, kSignedUnitScales = true;
  static HWY_INLINE void UnitBytes(const q6_k::block& b, __m128i& scales, __m128i&, float& d, float&) {
    scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    d = ScaleOf(b.d);
  }
#endif
  template <class Buf>
  static HWY_INLINE void Scales(const q6_k::block& b, Buf& buf) {
    ScaleBytes<16, false>(b.scales, ScaleOf(b.d), buf.scale, [](auto, auto v) { return v; });
  }
};

// q2_K's and q3_K's low two bits: per 128 weights, four 2-bit planes of 32 bytes.
HWY_INLINE void PairPlanes(const uint8_t* HWY_RESTRICT qs, uint8_t* HWY_RESTRICT codes) {
  for (int h = 0; h < 2; ++h) SplitPairs<32>(qs + 32 * h, codes + 128 * h, codes + 128 * h + 32, codes + 128 * h + 64, codes + 128 * h + 96);
}
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// PairPlanes in registers, for CodeVector v. With 32 lanes plane v % 4 of
// qs[32 (v / 4) ...], in weight order. With 64 lanes one load of all 64 bytes, one
// shift and a mask: plane v of both halves, weights 32 v.. and 128 + 32 v.. (the
// matvec puts the activations in that order: PairPlaneRun).
template <class D8>
HWY_INLINE hn::Vec<D8> PairPlaneVector(D8 d8, const uint8_t* HWY_RESTRICT qs, size_t v) {
  if constexpr (hn::MaxLanes(d8) == 64) {
    const hn::Repartition<uint16_t, D8> d16;
    return FieldAt<2, 0>(d8, hn::BitCast(d8, hn::ShiftRightSame(hn::BitCast(d16, hn::LoadU(d8, qs)), int(2 * v))));
  } else {
    return FieldAt<2, 0>(d8, Fields<2>(d8, qs + 32 * (v / 4), v % 4));
  }
}
// The 16-weight run of a q2_K / q3_K block in code run k of PairPlaneVector: with 64
// lanes, code 32-run r holds weight 32-run r / 2 + 4 (r % 2).
constexpr size_t PairPlaneRun(size_t lanes, size_t k) {
  return lanes == 64 ? 2 * ((k / 2) / 2 + 4 * ((k / 2) % 2)) + k % 2 : k;
}
#endif

#if HWY_TARGET == HWY_AVX3_DL
// Scaled codes (IntegerCodec::kScaledCodes) take two instructions that Highway 1.0's
// AVX3_DL target string lacks, written out as vpdpbusd is in the matmul: every CPU
// of the target (Ice Lake and later, Zen 4 and later) has GFNI.
using Bytes512 = hn::Vec<hn::Full512<uint8_t>>;

// Each byte times the 8 x 8 bit matrix of its 64-bit word of `matrix` (byte 7 - i
// selects the input bits whose parity is output bit i), xor kAdd: GFNI's affine
// transform, which moves any bits of a byte to any places in one instruction.
template <int kAdd>
HWY_INLINE Bytes512 AffineBits(Bytes512 v, hn::Vec<hn::Full512<uint64_t>> matrix) {
  __m512i r;
  asm("vgf2p8affineqb %3, %2, %1, %0" : "=v"(r) : "v"(v.raw), "v"(matrix.raw), "i"(kAdd));
  return Bytes512{r};
}
// The matrix that moves input bits kFrom, kFrom + 1 to output bits kTo, kTo + 1.
constexpr uint64_t kBitPairMatrix(int kFrom, int kTo) {
  return (uint64_t{1} << kFrom) << (8 * (7 - kTo)) | (uint64_t{2} << kFrom) << (8 * (6 - kTo));
}
// q2_K's index of vector v: bit plane v of qs.
constexpr uint64_t PlaneMatrix(int v) { return kBitPairMatrix(2 * v, 0); }
// q3_K's: plane v % 2 of its merged byte (bits 2 (v % 2), +1) and its third bit
// (bit 4 + v % 2) to bit 2.
constexpr uint64_t ThirdBitMatrix(int v) {
  return kBitPairMatrix(2 * (v % 2), 0) | (uint64_t{1} << (4 + v % 2)) << (8 * (7 - 2));
}

// Bytes of `bytes` (its first 16 at most) by index, across the whole vector (vpermb).
HWY_INLINE Bytes512 SpreadBytes(const uint8_t* HWY_RESTRICT index, Bytes512 bytes) {
  return Bytes512{_mm512_permutexvar_epi8(hn::Load(hn::Full512<uint8_t>(), index).raw, bytes.raw)};
}

// ScaledCodes of q2_K and q3_K: codes c (kCodes values, their low two bits a pair plane
// of qs) of sixteen sub-blocks of 16 with byte scales S, as the unsigned bytes
// (c - kBias) (S - kZero) + kAdd. Code vector v is PairPlaneVector's (128-bit block j
// holds sub-block (j & 1) + 2v + 8 (j >> 1)); each of its bytes is looked up within its
// 128-bit block of a table that holds, at kCodes (v % kPerTable) + c, the entries of
// the sub-block it meets in vector v (kPerTable vectors per table).
template <int kCodes, int kBias, int kZero, int kAdd>
struct PairPlaneScaledCodes {
  static constexpr size_t kPerTable = 16 / kCodes, kTables = 4 / kPerTable;
  // Two entries (c even, c + 1) per 16-bit word: the word S F(c) + A(c) holds both
  // bytes exactly, as each of them lies in [0, 255].
  static constexpr int Factor(int c) { return c - kBias + 256 * (c + 1 - kBias); }
  static constexpr uint16_t Add(int c) { return uint16_t(kAdd * 257 - kZero * Factor(c)); }
  template <class F>
  static constexpr uint64_t Words(F f) {  // words 0-3 of each 64 bits: c = 2p mod kCodes
    uint64_t r = 0;
    for (int p = 0; p < 4; ++p) r |= uint64_t(uint16_t(f(2 * p % kCodes))) << (16 * p);
    return r;
  }
  // Byte 2w of table t's spread: the sub-block whose scale word w = 8j + p takes (vector
  // v = kPerTable t + 2p / kCodes); byte 2w + 1: a zero past the 16 scales.
  alignas(64) static constexpr auto kSpread = [] {
    std::array<std::array<uint8_t, 64>, kTables> index{};
    for (size_t t = 0; t < kTables; ++t)
      for (size_t w = 0; w < 32; ++w) {
        const size_t j = w / 8, v = kPerTable * t + 2 * (w % 8) / kCodes;
        index[t][2 * w] = uint8_t(j % 2 + 2 * v + 8 * (j / 2)), index[t][2 * w + 1] = 16;
      }
    return index;
  }();
  // fn(v, codes) for v = 0..3; the table index of vector v is the bits of bits[v]
  // that kMatrix(v) moves (AffineBits), plus kCodes (v % kPerTable).
  template <uint64_t (*kMatrix)(int), class Fn>
  static HWY_INLINE void Run(Bytes512 scales, const Bytes512 (&bits)[4], const Fn& fn) {
    const hn::Full512<uint8_t> du8;
    const hn::Full512<uint16_t> d16;
    const hn::Full512<uint64_t> d64;
    Bytes512 table[kTables];
    for (size_t t = 0; t < kTables; ++t) {
      auto words = hn::Mul(hn::BitCast(d16, SpreadBytes(kSpread[t].data(), scales)), hn::BitCast(d16, hn::Set(d64, Words(Factor))));
      if constexpr (kAdd != 0 || kZero != 0) words = hn::Add(words, hn::BitCast(d16, hn::Set(d64, Words(Add))));
      table[t] = hn::BitCast(du8, words);
    }
    [&]<size_t... v>(std::index_sequence<v...>) HWY_ATTR {
      (fn(v, hn::TableLookupBytes(table[v / kPerTable], AffineBits<kCodes * (v % kPerTable)>(bits[v], hn::Set(d64, kMatrix(int(v)))))), ...);
    }(std::make_index_sequence<4>());
  }
};
#endif

// q2_K: four 2-bit planes per 32 bytes; 4-bit scale and min per 16 weights.
template <>
struct Codec<q2_k> : IntegerCodec<q2_k, uint8_t, 16, 0, true> {
  static constexpr bool kVectorScales = true;
  static constexpr int kCodeMax = 3;
  template <class Buf>
  static HWY_INLINE void Codes(const q2_k::block& b, Buf& buf) {
    PairPlanes(b.qs, buf.codes);
    Scales(b, buf);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static constexpr bool kVectorCodes = true;
  template <class D8>
  static HWY_INLINE hn::Vec<D8> CodeVector(D8 d8, const q2_k::block& b, size_t v) {
    return PairPlaneVector(d8, b.qs, v);
  }
  static constexpr size_t CodeRun(size_t lanes, size_t k) { return PairPlaneRun(lanes, k); }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  static constexpr bool kScaledCodes = true;
  // Codes (0-3) times their 4-bit scale: at most 45.
  template <class DU8, class Fn>
  static HWY_INLINE void ScaledCodes(DU8 du8, const q2_k::block& b, const Fn& fn) {
    const Bytes512 scales{_mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)))};
    const auto q = hn::LoadU(du8, b.qs);
    const Bytes512 bits[4] = {q, q, q, q};
    PairPlaneScaledCodes<4, 0, 0, 0>::Run<PlaneMatrix>(hn::And(scales, hn::Set(du8, 15)), bits, fn);
  }
  // The d of n <= 16 blocks, and their dmin in `minor` (the two halves of one word).
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunSuperScales(DF df, const q2_k::block* HWY_RESTRICT b, size_t n, hn::Vec<DF>& minor) {
    static_assert(offsetof(q2_k::block, dmin) == offsetof(q2_k::block, d) + 2);
    return BlockScales<f16, offsetof(q2_k::block, d)>(df, b, n, &minor);
  }
  // sum_u min_u usum_u in eight int32 lanes, for the units' sums of activation codes
  // usum (|usum| <= 16 * 127: the int16 pair products cannot overflow).
  static HWY_INLINE __m256i MinProducts(const q2_k::block& b, const int16_t* HWY_RESTRICT usum) {
    const __m256i mins = _mm256_srli_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales))), 4);
    return _mm256_madd_epi16(mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(usum)));
  }
#endif
#if HWY_TARGET == HWY_AVX2
  static constexpr bool kUnitBytes = true;
  // Scale (low nibble) and min (high nibble) of each of the sixteen units.
  static HWY_INLINE void UnitBytes(const q2_k::block& b, __m128i& scales, __m128i& mins, float& d, float& dmin) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    scales = _mm_and_si128(bytes, _mm_set1_epi8(15));
    mins = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(15));
    d = ScaleOf(b.d), dmin = ScaleOf(b.dmin);
  }
#endif
  template <class Buf>
  static HWY_INLINE void Scales(const q2_k::block& b, Buf& buf) {
    ScaleBytes<16, false>(b.scales, ScaleOf(b.d), buf.scale, [](auto di, auto v) { return hn::And(v, hn::Set(di, 15)); });
    ScaleBytes<16, true>(b.scales, ScaleOf(b.dmin), buf.offset, [](auto, auto v) { return hn::ShiftRight<4>(v); });
  }
};

// q3_K: q2_K's planes plus an inverted third bit (codes + 4); signed 6-bit scale per 16.
template <>
struct Codec<q3_k> : IntegerCodec<q3_k, uint8_t, 16, 4, false> {
  static constexpr bool kVectorScales = true;
  static constexpr int kCodeMax = 7;
  template <class Buf>
  static HWY_INLINE void Codes(const q3_k::block& b, Buf& buf) {
    PairPlanes(b.qs, buf.codes);
    for (unsigned s = 0; s < 8; ++s) OrIfBit<32>(b.hmask, s, 4, buf.codes + 32 * s);
    Scales(b, buf);
  }
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  static constexpr bool kVectorCodes = true;
  // q2_K's planes plus the weight's bit of hmask as 4: bit 32 / run of hmask[l] for
  // weight l of each run.
  template <class D8>
  static HWY_INLINE hn::Vec<D8> CodeVector(D8 d8, const q3_k::block& b, size_t v) {
    if constexpr (hn::MaxLanes(d8) == 64) {
      // Runs v and v + 4: bits v and v + 4 of hmask, moved to bit 2 (16-bit shifts:
      // what crosses from a neighbour byte stays out of bits 2 to 5).
      const auto both = hn::ShiftLeft<2>(BitArrayHalves<4>(hn::Repartition<uint16_t, D8>(), b.hmask));
      const auto bit = hn::And(hn::BitCast(d8, hn::ShiftRightSame(both, int(v))), hn::Set(d8, 4));
      return hn::Or(PairPlaneVector(d8, b.qs, v), bit);
    } else {
      return hn::Or(PairPlaneVector(d8, b.qs, v), FieldTo<1, 2>(d8, b.hmask, v));
    }
  }
  static constexpr size_t CodeRun(size_t lanes, size_t k) { return PairPlaneRun(lanes, k); }
#endif
#if HWY_TARGET == HWY_AVX3_DL
  static constexpr bool kScaledCodes = true;
  // Codes c = 0..7 times their signed 6-bit scale s (stored s + 32): (c - 4) s + 127,
  // which lies in [3, 255] (kScaledBias: the matvec takes the 127 back).
  template <class DU8, class Fn>
  static HWY_INLINE void ScaledCodes(DU8 du8, const q3_k::block& b, const Fn& fn) {
    const hn::Repartition<uint16_t, DU8> d16;
    const Bytes512 scales{_mm512_zextsi128_si512(BiasedScaleVector(b))};
    // The third bits of planes v: bit v of hmask[l] (first 32 bytes) or bit v + 4 (last
    // 32), at bit v of `high`; merged once per block with the planes of qs: planes 0
    // and 1 (bits 0-3) with their third bits at 4 and 5, planes 2 and 3 the same, so
    // that one affine transform per vector forms its index (ThirdBitMatrix).
    const auto high = BitArrayHalves<4>(d16, b.hmask);
    const auto q = hn::BitCast(d16, hn::LoadU(du8, b.qs));
    const auto low = hn::Set(du8, 0x0F);
    const Bytes512 planes01{_mm512_ternarylogic_epi64(q.raw, hn::ShiftLeft<4>(high).raw, low.raw, 0xE4)};
    const Bytes512 planes23{_mm512_ternarylogic_epi64(hn::ShiftRight<4>(q).raw, hn::ShiftLeft<2>(high).raw, low.raw, 0xE4)};
    const Bytes512 bits[4] = {planes01, planes01, planes23, planes23};
    PairPlaneScaledCodes<8, 4, 32, 127>::Run<ThirdBitMatrix>(scales, bits, fn);
  }
  // BiasedScales in a vector: each byte picks its fields out of a copy of the
  // scale bytes in its 64 bits (vpmultishiftqb: 8 bits from any bit offset), the low
  // nibble from bytes 0-7 and the top two bits from bytes 8-11 (bytes 4-7 of a copy
  // loaded 4 bytes later: the block's d follows the scales).
  static HWY_INLINE __m128i BiasedScaleVector(const q3_k::block& b) {
    // The bit offsets of scales j = 8 half + i (byte i): of the low nibble, and of
    // the top two bits less 4, which puts them at bits 4 and 5.
    constexpr auto kOffsets = [](bool top, int half) {
      return LaneBytes([=](int i) {
        const int j = 8 * half + i;
        return top ? 8 * (4 + j % 4) + 2 * (j / 4) - 4 : 8 * i + 4 * half;
      });
    };
    int64_t low, high;
    std::memcpy(&low, b.scales, 8), std::memcpy(&high, b.scales + 4, 8);
    const __m128i nibble = _mm_multishift_epi64_epi8(_mm_set_epi64x(kOffsets(false, 1), kOffsets(false, 0)), _mm_set1_epi64x(low));
    const __m128i top = _mm_multishift_epi64_epi8(_mm_set_epi64x(kOffsets(true, 1), kOffsets(true, 0)), _mm_set1_epi64x(high));
    return _mm_or_si128(_mm_and_si128(nibble, _mm_set1_epi8(0x0F)), _mm_and_si128(top, _mm_set1_epi8(0x30)));
  }
  static constexpr int kScaledBias = 127;
  // The d of n <= 16 blocks: the upper half of the word that ends the block.
  template <class DF>
  static HWY_INLINE hn::Vec<DF> RunSuperScales(DF df, const q3_k::block* HWY_RESTRICT b, size_t n, hn::Vec<DF>&) {
    static_assert(offsetof(q3_k::block, d) + 2 == sizeof(q3_k::block));
    return WordScales<f16>(df, hn::ShiftRight<16>(GatherWords<offsetof(q3_k::block, d) - 2>(hn::RebindToSigned<DF>(), b, n)));
  }
#endif
#if HWY_TARGET == HWY_AVX2
  static constexpr bool kUnitBytes = true, kSignedUnitScales = true;
  static HWY_INLINE void UnitBytes(const q3_k::block& b, __m128i& scales, __m128i&, float& d, float&) {
    uint64_t s07, s8f;
    BiasedScaleWords(b, s07, s8f);
    scales = _mm_sub_epi8(_mm_set_epi64x(int64_t(s8f), int64_t(s07)), _mm_set1_epi8(32));
    d = ScaleOf(b.d);
  }
#endif
  // Scales 0-7 and 8-15 + 32 in the bytes of two words, by word operations (little-
  // endian), as q4_K's: bytes 0-7 hold the low nibbles of scales 0-7 and (high
  // nibbles) 8-15; bits 2k, 2k + 1 of byte 8 + j % 4 the high two bits of scale
  // j = j % 4 + 4k.
  static HWY_INLINE void BiasedScaleWords(const q3_k::block& b, uint64_t& s07, uint64_t& s8f) {
    uint64_t low;
    uint32_t high;
    std::memcpy(&low, b.scales, 8), std::memcpy(&high, b.scales + 8, 4);
    const uint64_t nibbles = 0x0F0F0F0F0F0F0F0Full, two = 0x03030303u;
    const uint64_t h07 = (high & two) | uint64_t((high >> 2) & two) << 32;
    const uint64_t h8f = ((high >> 4) & two) | uint64_t((high >> 6) & two) << 32;
    s07 = (low & nibbles) | h07 << 4, s8f = ((low >> 4) & nibbles) | h8f << 4;
  }
  // The sixteen 6-bit scales + 32, one byte each.
  static HWY_INLINE void BiasedScales(const q3_k::block& b, uint8_t* HWY_RESTRICT sc) {
    if constexpr (std::endian::native == std::endian::little) {
      // Stored at once, as ScaleBytes loads them (see ScaleMinCodec).
      uint64_t s07, s8f;
      BiasedScaleWords(b, s07, s8f);
#if HWY_TARGET != HWY_SCALAR
      const hn::Full128<uint64_t> d64;
      hn::Store(hn::InterleaveLower(d64, hn::Set(d64, s07), hn::Set(d64, s8f)), d64, reinterpret_cast<uint64_t*>(sc));
#else
      std::memcpy(sc, &s07, 8), std::memcpy(sc + 8, &s8f, 8);
#endif
    } else {
      for (int j = 0; j < 16; ++j) sc[j] = uint8_t(q3_k::scale(b, j) + 32);
    }
  }
  template <class Buf>
  static HWY_INLINE void Scales(const q3_k::block& b, Buf& buf) {
    alignas(16) uint8_t sc[16];
    BiasedScales(b, sc);
    const float d = ScaleOf(b.d);
    const auto field = [](auto di, auto v) { return hn::Sub(v, hn::Set(di, 32)); };
    ScaleBytes<16, false>(sc, d, buf.scale, field);
  }
};

// The activation types as weights: int8 codes, one scale (f16 for q8_1, f32 for
// q8_K: one rounding of a product either way, so SIMD and reference agree).
template <>
struct Codec<q8_1> : IntegerCodec<q8_1, int8_t, 32, 0, false> {
  template <class Buf>
  static HWY_INLINE void Codes(const q8_1::block& b, Buf& buf) {
    std::memcpy(buf.codes, b.qs, 32);
    buf.scale[0] = ScaleOf(b.d);
  }
};

template <>
struct Codec<q8_k> : IntegerCodec<q8_k, int8_t, 32, 0, false> {
  template <class Buf>
  static HWY_INLINE void Codes(const q8_k::block& b, Buf& buf) {
    std::memcpy(buf.codes, b.qs, 256);
    for (auto& sc : buf.scale) sc = ScaleOf(b.d);
  }
};

// NF4: a float table, so a float codec. Byte k holds element 2k in its high nibble
// (bitsandbytes' order): interleaving the high and low nibbles restores element
// order; the table values are gathered and multiplied by absmax as the reference does.
template <size_t Block, class Scale>
struct Codec<basic_nf4<Block, Scale>> {
  using F = basic_nf4<Block, Scale>;
  static constexpr bool kInteger = false;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  // The matvec's form (AVX2's, and AVX-512's for blocks that WordPair does not
  // take): the table values of N bytes (2N weights, N = 8 or 16 lanes)
  // in two vectors, the high nibbles' (elements 2k) and the low nibbles' (2k + 1),
  // lane k for byte k, before the scale; the matvec puts x's even and odd elements
  // in that order once per pass, and multiplies a block's dot product by its scale.
  // Each byte widened to a lane is an index as it stands: the permutes read only
  // its low bits (four on AVX-512; three on AVX2, whose blend takes bit 3 moved to
  // the sign bit), so one shift gives the high nibbles and no masks are needed.
  static constexpr bool kTablePairs = Block % (HWY_TARGET <= HWY_AVX3 ? 32 : 16) == 0;
  template <class DF>
  static HWY_INLINE void TablePair(DF df, const typename F::block& b, size_t j, hn::Vec<DF>& even, hn::Vec<DF>& odd) {
    constexpr size_t N = hn::MaxLanes(df);
    static_assert(N == (HWY_TARGET <= HWY_AVX3 ? 16 : 8), "full vectors of floats");
    const hn::RebindToSigned<DF> di;
    const auto low = hn::BitCast(di, hn::PromoteTo(hn::RebindToUnsigned<DF>(), hn::LoadU(hn::Rebind<uint8_t, DF>(), b.qs + N * j)));
    const auto high = hn::ShiftRight<4>(low);
#if HWY_TARGET <= HWY_AVX3
    const __m512 table = hn::LoadU(df, detail::nf4_values).raw;
    even = hn::Vec<DF>{_mm512_permutexvar_ps(high.raw, table)};
    odd = hn::Vec<DF>{_mm512_permutexvar_ps(low.raw, table)};
#else
    even = Lookup8(df, high.raw);
    odd = Lookup8(df, low.raw);
#endif
  }
#if HWY_TARGET > HWY_AVX3
  // The table at the low four bits of each lane of idx on 8 lanes: each half of the
  // table looked up by the low three bits (all vpermps reads), bit 3, moved to the
  // sign bit, picks between them.
  template <class DF>
  static HWY_INLINE hn::Vec<DF> Lookup8(DF df, __m256i idx) {
    const __m256 lower = _mm256_permutevar8x32_ps(hn::LoadU(df, detail::nf4_values).raw, idx);
    const __m256 upper = _mm256_permutevar8x32_ps(hn::LoadU(df, detail::nf4_values + 8).raw, idx);
    return hn::Vec<DF>{_mm256_blendv_ps(lower, upper, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)))};
  }
#endif

  // The dequantizer's form: the table values of a block, a vector (8 or 16 lanes) at
  // a time in element order, before the scale.
  static constexpr bool kTableVectors = Block % 16 == 0;
  template <class DF>
  static HWY_INLINE hn::Vec<DF> TableVector(DF df, const typename F::block& b, size_t v) {
    constexpr size_t N = hn::MaxLanes(df);
    static_assert(N == (HWY_TARGET <= HWY_AVX3 ? 16 : 8), "full vectors of floats");
    const hn::RebindToSigned<DF> di;
    // The indices of vectors 2j and 2j + 1 (the pair of calls shares the load and the
    // shift): a 16-bit shift brings each byte's high nibble to its low bits, and
    // interleaved high first the bytes are the elements in order. Their upper four
    // bits are a neighbour's: the permutes read only the low bits, so no masks.
    const hn::Full128<uint8_t> d16;
    const hn::Repartition<uint16_t, decltype(d16)> dw;
    const auto down = [&](auto bytes) { return hn::BitCast(d16, hn::ShiftRight<4>(hn::BitCast(dw, bytes))); };
#if HWY_TARGET <= HWY_AVX3
    if constexpr (Block % 32 == 0) {  // 16 bytes: 32 indices
      const auto bytes = hn::LoadU(d16, b.qs + 8 * (v & ~size_t{1}));
      const auto high = down(bytes);
      const auto idx = hn::PromoteTo(di, v % 2 ? hn::InterleaveUpper(d16, high, bytes) : hn::InterleaveLower(d16, high, bytes));
      return hn::Vec<DF>{_mm512_permutexvar_ps(idx.raw, hn::LoadU(df, detail::nf4_values).raw)};  // low 4 bits
    } else {  // an odd number of 16-weight vectors: 8 bytes, each in two lanes shifted by 4 and 0
      const hn::Rebind<uint8_t, DF> d8;
      const auto bytes = hn::ZeroExtendVector(d8, hn::LoadU(hn::Half<decltype(d8)>(), b.qs + N / 2 * v));
      alignas(64) static constexpr int32_t kShift[16] = {4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0};
      const auto idx = hn::And(hn::Shr(hn::PromoteTo(di, hn::InterleaveLower(d8, bytes, bytes)), hn::Load(di, kShift)), hn::Set(di, 15));
      return hn::TableLookupLanes(hn::LoadU(df, detail::nf4_values), hn::IndicesFromVec(df, idx));
    }
#else  // AVX2, 8 bytes: 16 indices
    const auto bytes = hn::ZeroExtendVector(d16, hn::LoadU(hn::Half<decltype(d16)>(), b.qs + 4 * (v & ~size_t{1})));
    const auto pairs = hn::InterleaveLower(d16, down(bytes), bytes);
    return Lookup8(df, hn::PromoteTo(di, v % 2 ? hn::UpperHalf(hn::Half<decltype(d16)>(), pairs) : hn::LowerHalf(pairs)).raw);
#endif
  }
  static HWY_INLINE float BlockScale(const typename F::block& b) { return ScaleOf(b.absmax); }
#else
  static constexpr bool kTablePairs = false, kTableVectors = false;
#endif
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  // The matvec's int16 form (AVX2, AVX-512): the table values times 2^14, rounded
  // (within 2^-15 of the block's scale), meet activations quantized to int16 in pair
  // products (vpmaddwd, vpdpwssd), which cost half the permutes of the float lookups
  // on AVX-512 and a fraction of AVX2's (two vpermps and a blend per 8 weights).
  static constexpr bool kWordPairs = Block % 64 == 0;
  static constexpr float kWordScale = 1.f / 16384;
  // Twice over: AVX-512's vpermw reads five index bits.
  alignas(64) static constexpr auto kWordTable = [] {
    std::array<int16_t, 32> t{};
    for (size_t i = 0; i < 32; ++i) {
      const float v = detail::nf4_values[i % 16] * 16384;  // exact: at most 16384, half-way rounding away from 0
      t[i] = int16_t(v < 0 ? v - 0.5f : v + 0.5f);
    }
    return t;
  }();
#endif
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // WordPair: the values of bytes 32j .. 32j + 31, their high nibbles (elements 2k)
  // and low nibbles (2k + 1), lane k for byte k; one vpermw each reads the low five
  // bits of its index, so the table is there twice and the low nibbles need no mask.
  static HWY_INLINE void WordPair(const typename F::block& b, size_t j, __m512i& even, __m512i& odd) {
    const __m512i table = _mm512_load_si512(kWordTable.data());
    const __m512i bytes = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * j)));
    even = _mm512_permutexvar_epi16(_mm512_srli_epi16(bytes, 4), table);
    odd = _mm512_permutexvar_epi16(bytes, table);
  }
#elif HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
  // WordPair on AVX2: the values of bytes 32j .. 32j + 31 in four vectors of 16
  // words (vpunpck's order within 128-bit halves): the high nibbles (elements 2k) of
  // bytes 0-7 and 16-23, their low nibbles (2k + 1), then the same of bytes 8-15 and
  // 24-31 (QuantizeWords' kWordOrder). Each word's low and high byte come from a
  // vpshufb of a 16-byte table by the nibble.
  static HWY_INLINE void WordPair(const typename F::block& b, size_t j, __m256i (&v)[4]) {
    static constexpr auto kBytes = [] {
      std::array<uint8_t, 64> t{};  // low bytes, then high bytes, each in both 128-bit halves
      for (size_t i = 0; i < 32; ++i) {
        t[i] = uint8_t(uint16_t(kWordTable[i % 16]) & 0xFF);
        t[32 + i] = uint8_t(uint16_t(kWordTable[i % 16]) >> 8);
      }
      return t;
    }();
    const __m256i low_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBytes.data()));
    const __m256i high_bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kBytes.data() + 32));
    const __m256i mask = _mm256_set1_epi8(15);
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * j));
    const __m256i nibbles[2] = {_mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask), _mm256_and_si256(bytes, mask)};
    for (size_t k = 0; k < 2; ++k) {
      const __m256i lo = _mm256_shuffle_epi8(low_bytes, nibbles[k]), hi = _mm256_shuffle_epi8(high_bytes, nibbles[k]);
      v[k] = _mm256_unpacklo_epi8(lo, hi);
      v[2 + k] = _mm256_unpackhi_epi8(lo, hi);
    }
  }
#else
  static constexpr bool kWordPairs = false;
#endif
  template <class DF>
  static HWY_INLINE void Decode(DF, const typename F::block& b, float* HWY_RESTRICT out) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    if constexpr (kTableVectors) {  // the reference's product: table value times absmax
      const hn::ScalableTag<float> df;
      const auto s = hn::Set(df, BlockScale(b));
      for (size_t v = 0; v < Block / hn::Lanes(df); ++v) hn::StoreU(hn::Mul(TableVector(df, b, v), s), df, out + v * hn::Lanes(df));
      return;
    }
#endif
    HWY_ALIGN uint8_t idx[Block];
#if HWY_TARGET == HWY_SCALAR
    for (size_t k = 0; k < Block / 2; ++k) idx[2 * k] = b.qs[k] >> 4, idx[2 * k + 1] = b.qs[k] & 15;
#else
    if constexpr (Block % 16 == 0) {
      const hn::Full128<uint8_t> d8;
      const hn::Half<decltype(d8)> d8h;  // not Full64: on RVV that is a different (whole-register) type
      for (size_t k = 0; k < Block / 2; k += 8) {  // 8 bytes: 16 indices, one 16-byte store
        const auto v = hn::ZeroExtendVector(d8, hn::LoadU(d8h, b.qs + k));
        hn::StoreU(hn::InterleaveLower(d8, hn::ShiftRight<4>(v), hn::And(v, hn::Set(d8, 15))), d8, idx + 2 * k);
      }
    } else {
      for (size_t k = 0; k < Block / 2; ++k) idx[2 * k] = b.qs[k] >> 4, idx[2 * k + 1] = b.qs[k] & 15;
    }
#endif
#if HWY_TARGET != HWY_SCALAR
    // Where a vector holds the 16 table values, a lane permute looks them up (a
    // gather, the fallback, loads every lane separately).
    const hn::CappedTag<float, 16> dt;
    if (Block % 16 == 0 && hn::Lanes(dt) == 16) {
      const hn::Rebind<int32_t, decltype(dt)> dti;
      const hn::Rebind<uint8_t, decltype(dt)> d8t;
      const auto table = hn::LoadU(dt, detail::nf4_values), s = hn::Set(dt, ScaleOf(b.absmax));
      for (size_t i = 0; i < Block; i += 16) {
        const auto lanes = hn::IndicesFromVec(dt, hn::PromoteTo(dti, hn::LoadU(d8t, idx + i)));
        hn::StoreU(hn::Mul(hn::TableLookupLanes(table, lanes), s), dt, out + i);
      }
      return;
    }
#endif
    const hn::CappedTag<float, PowerOfTwoIn(Block)> df;
    const hn::Rebind<int32_t, decltype(df)> di;
    const hn::Rebind<uint8_t, decltype(df)> d8q;
    const auto s = hn::Set(df, ScaleOf(b.absmax));
    for (size_t i = 0; i < Block; i += hn::Lanes(df)) {
      const auto values = hn::GatherIndex(df, detail::nf4_values, hn::PromoteTo(di, hn::LoadU(d8q, idx + i)));
      hn::StoreU(hn::Mul(values, s), df, out + i);
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

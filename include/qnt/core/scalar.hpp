// Scalar building blocks shared by every format: little-endian storage cells,
// fp16 / bf16 / E8M0 conversions, and the rounding helpers the block formats are
// defined with. Everything here is constexpr and SIMD-free, so the scalar
// reference of each format can run in constant expressions.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

// For a SIMD-free function that takes a per-target callable (the fast searches'
// choices): inlined into the target's caller, the callable inlines too; a call
// would compile the function for the baseline and call the target code per step.
#if defined(__GNUC__) || defined(__clang__)
#define QNT_ALWAYS_INLINE __attribute__((always_inline)) inline
#elif defined(_MSC_VER)
#define QNT_ALWAYS_INLINE __forceinline
#else
#define QNT_ALWAYS_INLINE inline
#endif
// A kernel's lambda inlined at each of its calls: GCC makes one with several calls a
// function of its own, which reads what it captured back from memory and keeps its
// accumulators there.
#if defined(__GNUC__) || defined(__clang__)
#define QNT_LAMBDA_INLINE __attribute__((always_inline))
#else
#define QNT_LAMBDA_INLINE
#endif

namespace qnt {

// ---------------------------------------------------------------------------
// Bit casts and classification (std:: math is not constexpr in C++20).

constexpr uint32_t float_bits(float f) { return std::bit_cast<uint32_t>(f); }
constexpr float bits_float(uint32_t u) { return std::bit_cast<float>(u); }

constexpr bool is_finite(float f) { return (float_bits(f) & 0x7F800000u) != 0x7F800000u; }
constexpr bool is_nan(float f) { return (float_bits(f) & 0x7FFFFFFFu) > 0x7F800000u; }
constexpr float abs(float f) { return bits_float(float_bits(f) & 0x7FFFFFFFu); }
constexpr float copy_sign(float mag, float sgn) {
  return bits_float((float_bits(mag) & 0x7FFFFFFFu) | (float_bits(sgn) & 0x80000000u));
}
constexpr float min(float a, float b) { return b < a ? b : a; }
constexpr float max(float a, float b) { return a < b ? b : a; }
constexpr int clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
// c ? a : b by bit operations: the searches pick between candidates with it where
// which one wins is data a branch predictor cannot learn.
constexpr float select(bool c, float a, float b) {
  const uint32_t m = 0u - uint32_t(c);
  return bits_float((float_bits(a) & m) | (float_bits(b) & ~m));
}
constexpr int select(bool c, int a, int b) {
  const uint32_t m = 0u - uint32_t(c);
  return int((uint32_t(a) & m) | (uint32_t(b) & ~m));
}

// Round to nearest, ties to even (GGUF's "nearest_int"). Adding 1.5*2^23 pushes the
// integer part into the low mantissa bits, which the FPU rounds ties-to-even.
// Exact for |v| <= 2^22; callers clamp the result to a small code range, and larger
// inputs are clamped to +-2^22 first so the trick never wraps.
constexpr int rne(float v) {
  v = min(max(v, -4194303.f), 4194303.f);
  const float t = v + 12582912.f;
  return int(float_bits(t) & 0x7FFFFF) - 0x400000;
}
static_assert(rne(2.5f) == 2 && rne(3.5f) == 4 && rne(-2.5f) == -2 && rne(-0.5f) == 0);

// The integer nearest to t (ties to even) within [lo, hi], as a float; lo and hi are
// integers of magnitude below 2^22. Clamping first keeps t where adding and
// subtracting 1.5 * 2^23 rounds it. Branch-free, so element-wise loops over it
// vectorize; NaN gives lo.
constexpr float round_clamped(float t, float lo, float hi) {
  t = t > lo ? t : lo;
  t = t < hi ? t : hi;
  return (t + 12582912.f) - 12582912.f;
}
static_assert(round_clamped(2.5f, -8, 7) == 2 && round_clamped(-7.5f, -8, 7) == -8 && round_clamped(9.f, -8, 7) == 7);

// Sum of kCount values in a fixed pairwise order (the upper part folds onto the
// lower until one value is left; the array is overwritten). The order is part of
// the quantizers' definition: the same bytes on every machine whether or not the
// compiler vectorizes the loops.
template <size_t kCount>
constexpr float pairwise_sum(float* v) {
  static_assert(kCount > 0);
  for (size_t count = kCount; count > 1;) {
    const size_t half = count / 2, rest = count - half;
    for (size_t i = 0; i < half; ++i) v[i] += v[i + rest];
    count = rest;
  }
  return v[0];
}

// C's roundf: ties away from zero (used by q8_0 / q8_1).
constexpr int round_away(float v) {
  v = min(max(v, -4194303.f), 4194303.f);
  const float a = abs(v);
  int i = int(a);  // toward zero, exact for a < 2^22
  if (a - float(i) >= 0.5f) ++i;
  return v < 0 ? -i : i;
}
static_assert(round_away(2.5f) == 3 && round_away(-2.5f) == -3 && round_away(0.49999997f) == 0);

// Correctly rounded sqrt. At run time std::sqrt would do; this one is exact in
// constant expressions too, so compile-time and run-time quantization agree.
constexpr float sqrt(float x) {
  if (!(x > 0) || !is_finite(x)) return x == 0 ? x : (x > 0 ? x : std::numeric_limits<float>::quiet_NaN());
  // Newton in double converges to within an ulp of double; round to float and then
  // correct with exact double comparisons against the neighbouring midpoints.
  double g = double(x) < 1 ? 1.0 : double(x);
  for (int i = 0; i < 200; ++i) {
    const double n = 0.5 * (g + double(x) / g);
    if (n == g) break;
    g = n;
  }
  float r = float(g);
  for (int i = 0; i < 2; ++i) {
    const float up = bits_float(float_bits(r) + 1), dn = bits_float(float_bits(r) - 1);
    const double mu = (double(r) + double(up)) / 2, md = (double(r) + double(dn)) / 2;
    if (double(x) > mu * mu) r = up;
    else if (double(x) < md * md) r = dn;
  }
  return r;
}
static_assert(sqrt(4.f) == 2.f && sqrt(2.f) == 1.41421353816986083984375f);

// a * b + c with a single rounding, also in constant expressions and whatever the
// compiler's contraction settings. The product of two floats is exact in double;
// the sum's rounding error is recovered exactly (TwoSum) and decides the one case
// where rounding the double sum to float would round twice: a sum exactly halfway
// between two floats.
constexpr float fused_mul_add(float a, float b, float c) {
  const double p = double(a) * double(b), s = p + double(c);
  const float r = float(s);
  if (!is_finite(r) || double(r) == s) return r;
  const double bv = s - p, e = (p - (s - bv)) + (double(c) - bv);
  if (e == 0) return r;
  const bool above = s > double(r);  // the other candidate lies above r
  const uint32_t u = float_bits(r);
  const float other = bits_float(r == 0 ? (above ? 1u : 0x80000001u)
                                        : ((r > 0) == above ? u + 1 : u - 1));
  if ((double(r) + double(other)) / 2 != s) return r;  // not a midpoint: rounded once
  return (e > 0) == (double(other) > double(r)) ? other : r;
}
static_assert(fused_mul_add(1.f + 0x1p-23f, 1.f + 0x1p-23f, -1.f) == 0x1p-22f + 0x1p-46f);
// 1047553 * 1025 = 2^30 + 1: the exact result is 1 + 2^-24 + 2^-54, just above the
// midpoint 1 + 2^-24 that a double sum rounds to (rounding twice would give 1).
static_assert(fused_mul_add(1047553.f * 0x1p-20f, 1025.f * 0x1p-34f, 1.f) == 1.f + 0x1p-23f);

// ---------------------------------------------------------------------------
// fp16 (IEEE binary16), exact decode and round-to-nearest-even encode.

constexpr float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 31, m = h & 1023;
  if (e == 0) {
    // Zero or subnormal: m * 2^-24 is exact in f32.
    const float v = float(m) * bits_float(0x33800000u);  // 2^-24
    return bits_float(float_bits(v) | sign);
  }
  if (e == 31) return bits_float(sign | 0x7F800000u | (m << 13));  // Inf, NaN keeps payload
  return bits_float(sign | ((e + 112) << 23) | (m << 13));
}

constexpr uint16_t f32_to_f16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return uint16_t(sign | 0x7E00u);  // NaN
  if (a >= 0x477FF000u) return uint16_t(sign | 0x7C00u);  // >= 65520 rounds to Inf
  if (a < 0x38800000u) {
    // Result is an fp16 subnormal or zero: round |f| / 2^-24 to an integer, ties even.
    const float scaled = bits_float(a) * 16777216.f;  // exact: power-of-two scaling
    return uint16_t(sign | uint16_t(rne(scaled)));
  }
  // Normal: drop 13 mantissa bits with round-to-nearest-even; a carry into the
  // exponent is the correct result.
  const uint32_t rounded = a + 0xFFFu + ((a >> 13) & 1u);
  return uint16_t(sign | ((rounded - 0x38000000u) >> 13));
}

// f16_to_f32(f32_to_f16(f)) without the detour through the 16-bit form, and without
// branches: the searches round every candidate scale, several blocks at a time.
constexpr float f16_round(float f) {
  const uint32_t u = float_bits(f), sign = u & 0x80000000u, a = u & 0x7FFFFFFFu;
  // Normal: 13 mantissa bits dropped, ties to even (a carry into the exponent is right).
  const uint32_t normal = (a + 0xFFFu + ((a >> 13) & 1u)) & 0xFFFFE000u;
  // Below 2^-14: a multiple of 2^-24, the spacing of floats in [0.5, 1), which the
  // addition rounds to (ties even) and the subtraction leaves exact.
  const uint32_t tiny = float_bits((bits_float(a) + 0.5f) - 0.5f);
  const uint32_t r = a > 0x7F800000u ? 0x7FC00000u : a >= 0x477FF000u ? 0x7F800000u : a < 0x38800000u ? tiny : normal;
  return bits_float(sign | r);
}

// bf16: the upper half of an f32.
constexpr float bf16_to_f32(uint16_t h) { return bits_float(uint32_t(h) << 16); }
constexpr uint16_t f32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40u);  // quiet NaN
  return uint16_t((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// E8M0 (a bare power-of-two exponent). mxfp4 uses half of the standard value
// because its code table stores E2M1 values doubled.
constexpr float e8m0_to_f32(uint8_t e) {
  if (e == 0) return bits_float(0x00400000u);
  if (e == 255) return bits_float(0x7F800000u);
  return bits_float(uint32_t(e) << 23);
}
constexpr float e8m0_half_to_f32(uint8_t e) {
  if (e < 2) return bits_float(0x00200000u << e);
  return bits_float(uint32_t(e - 1) << 23);
}

// ---------------------------------------------------------------------------
// Storage cells. Every multi-byte field of every block is a byte array read as
// little-endian, so blocks have alignment 1 (GGUF rows of 18-byte blocks are not
// aligned) and the layout is the same on any host.

struct le16 {
  uint8_t b[2];
  constexpr uint16_t get() const { return uint16_t(b[0] | (b[1] << 8)); }
  constexpr void set(uint16_t v) { b[0] = uint8_t(v), b[1] = uint8_t(v >> 8); }
};
struct le32 {
  uint8_t b[4];
  constexpr uint32_t get() const {
    return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
  }
  constexpr void set(uint32_t v) {
    for (int i = 0; i < 4; ++i) b[i] = uint8_t(v >> (8 * i));
  }
};

// Scale cells: also the Scale parameter of the generic formats.
struct f16 {
  le16 bits;
  static constexpr float max_finite = 65504.f;
  static constexpr const char* name = "f16";
  constexpr float get() const { return f16_to_f32(bits.get()); }
  constexpr void set(float v) { bits.set(f32_to_f16(v)); }
  static constexpr float round(float v) { return f16_round(v); }
  // The value k representable steps further from zero than v (nearer for k < 0),
  // stopping at zero and at the largest finite value; v must be representable.
  static constexpr float neighbour(float v, int k) {
    const uint16_t h = f32_to_f16(v);
    const int m = clamp(int(h & 0x7FFF) + k, 0, 0x7BFF);
    return f16_to_f32(uint16_t(m | (h & 0x8000)));
  }
};
struct bf16 {
  le16 bits;
  static constexpr float max_finite = 3.38953139e38f;
  static constexpr const char* name = "bf16";
  constexpr float get() const { return bf16_to_f32(bits.get()); }
  constexpr void set(float v) { bits.set(f32_to_bf16(v)); }
  static constexpr float round(float v) { return bf16_to_f32(f32_to_bf16(v)); }
  static constexpr float neighbour(float v, int k) {
    const uint16_t h = f32_to_bf16(v);
    const int m = clamp(int(h & 0x7FFF) + k, 0, 0x7F7F);
    return bf16_to_f32(uint16_t(m | (h & 0x8000)));
  }
};
struct f32 {
  le32 bits;
  static constexpr float max_finite = std::numeric_limits<float>::max();
  static constexpr const char* name = "f32";
  constexpr float get() const { return bits_float(bits.get()); }
  constexpr void set(float v) { bits.set(float_bits(v)); }
  static constexpr float round(float v) { return v; }
  static constexpr float neighbour(float v, int k) {
    const uint32_t u = float_bits(v), mag = u & 0x7FFFFFFFu;
    const uint32_t m = k < 0 ? (mag < uint32_t(-k) ? 0u : mag - uint32_t(-k))
                             : (0x7F7FFFFFu - mag < uint32_t(k) ? 0x7F7FFFFFu : mag + uint32_t(k));
    return bits_float(m | (u & 0x80000000u));
  }
};
static_assert(sizeof(f16) == 2 && sizeof(bf16) == 2 && sizeof(f32) == 4 && alignof(f32) == 1);

template <class S>
concept scale_cell = std::is_same_v<S, f16> || std::is_same_v<S, bf16> || std::is_same_v<S, f32>;

static_assert(f32_to_f16(1.f) == 0x3C00 && f32_to_f16(65504.f) == 0x7BFF && f32_to_f16(65520.f) == 0x7C00);
static_assert(f32_to_f16(5.9604645e-8f) == 1 && f16_to_f32(1) == 5.9604645e-8f);
static_assert(f32_to_f16(-0.f) == 0x8000 && f32_to_bf16(1.f) == 0x3F80);

}  // namespace qnt

// Per-target matrix products straight from the blocks. The weights are decoded
// through Codec<F>, a few rows and about a thousand columns at a time, into a
// small buffer that stays in the L1 cache, and multiplied from there by every
// activation row, so the cost of decoding is shared by all n of them. Nothing is
// allocated: the buffer is on the stack.

#if defined(QNT_KERNELS_MATMUL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_MATMUL_INL_H_
#undef QNT_KERNELS_MATMUL_INL_H_
#else
#define QNT_KERNELS_MATMUL_INL_H_
#endif

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "codec-inl.h"
#include "codecs-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

template <class DF, class V>
HWY_INLINE float SumLanes(DF df, V v) {
#if HWY_MAJOR > 1 || HWY_MINOR >= 1
  return hn::ReduceSum(df, v);
#else
  return hn::GetLane(hn::SumOfLanes(df, v));
#endif
}

// Four weight rows (w0..w3, each `len` floats) times one activation row `xa`;
// adds the four dot products to y[0..3] (stride ys).
template <class DF>
HWY_INLINE void Tile4x1(DF df, const float* HWY_RESTRICT w0, const float* HWY_RESTRICT w1,
                        const float* HWY_RESTRICT w2, const float* HWY_RESTRICT w3, const float* HWY_RESTRICT xa,
                        size_t len, float* y, size_t ys) {
  const size_t N = hn::Lanes(df);
  auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df), a3 = hn::Zero(df);
  size_t k = 0;
  for (; k + N <= len; k += N) {
    const auto x = hn::LoadU(df, xa + k);
    a0 = hn::MulAdd(hn::Load(df, w0 + k), x, a0);
    a1 = hn::MulAdd(hn::Load(df, w1 + k), x, a1);
    a2 = hn::MulAdd(hn::Load(df, w2 + k), x, a2);
    a3 = hn::MulAdd(hn::Load(df, w3 + k), x, a3);
  }
  float s0 = SumLanes(df, a0), s1 = SumLanes(df, a1), s2 = SumLanes(df, a2), s3 = SumLanes(df, a3);
  for (; k < len; ++k) s0 += w0[k] * xa[k], s1 += w1[k] * xa[k], s2 += w2[k] * xa[k], s3 += w3[k] * xa[k];
  y[0] += s0, y[ys] += s1, y[2 * ys] += s2, y[3 * ys] += s3;
}

// Four weight rows times four activation rows (x0..x3): sixteen dot products,
// added to y[a * yrow + j] for activation a and weight row j.
template <class DF>
HWY_INLINE void Tile4x4(DF df, const float* HWY_RESTRICT w0, const float* HWY_RESTRICT w1,
                        const float* HWY_RESTRICT w2, const float* HWY_RESTRICT w3, const float* HWY_RESTRICT x0,
                        const float* HWY_RESTRICT x1, const float* HWY_RESTRICT x2, const float* HWY_RESTRICT x3,
                        size_t len, float* y, size_t yrow) {
  const size_t N = hn::Lanes(df);
  // Sixteen named accumulators: scalable vectors cannot live in arrays.
  auto a00 = hn::Zero(df), a01 = hn::Zero(df), a02 = hn::Zero(df), a03 = hn::Zero(df);
  auto a10 = hn::Zero(df), a11 = hn::Zero(df), a12 = hn::Zero(df), a13 = hn::Zero(df);
  auto a20 = hn::Zero(df), a21 = hn::Zero(df), a22 = hn::Zero(df), a23 = hn::Zero(df);
  auto a30 = hn::Zero(df), a31 = hn::Zero(df), a32 = hn::Zero(df), a33 = hn::Zero(df);
  size_t k = 0;
  for (; k + N <= len; k += N) {
    const auto v0 = hn::Load(df, w0 + k), v1 = hn::Load(df, w1 + k);
    const auto v2 = hn::Load(df, w2 + k), v3 = hn::Load(df, w3 + k);
    auto x = hn::LoadU(df, x0 + k);
    a00 = hn::MulAdd(v0, x, a00), a01 = hn::MulAdd(v1, x, a01), a02 = hn::MulAdd(v2, x, a02), a03 = hn::MulAdd(v3, x, a03);
    x = hn::LoadU(df, x1 + k);
    a10 = hn::MulAdd(v0, x, a10), a11 = hn::MulAdd(v1, x, a11), a12 = hn::MulAdd(v2, x, a12), a13 = hn::MulAdd(v3, x, a13);
    x = hn::LoadU(df, x2 + k);
    a20 = hn::MulAdd(v0, x, a20), a21 = hn::MulAdd(v1, x, a21), a22 = hn::MulAdd(v2, x, a22), a23 = hn::MulAdd(v3, x, a23);
    x = hn::LoadU(df, x3 + k);
    a30 = hn::MulAdd(v0, x, a30), a31 = hn::MulAdd(v1, x, a31), a32 = hn::MulAdd(v2, x, a32), a33 = hn::MulAdd(v3, x, a33);
  }
  float s[16] = {SumLanes(df, a00), SumLanes(df, a01), SumLanes(df, a02), SumLanes(df, a03),
                 SumLanes(df, a10), SumLanes(df, a11), SumLanes(df, a12), SumLanes(df, a13),
                 SumLanes(df, a20), SumLanes(df, a21), SumLanes(df, a22), SumLanes(df, a23),
                 SumLanes(df, a30), SumLanes(df, a31), SumLanes(df, a32), SumLanes(df, a33)};
  const float* w[4] = {w0, w1, w2, w3};
  const float* xs[4] = {x0, x1, x2, x3};
  for (; k < len; ++k)
    for (int a = 0; a < 4; ++a)
      for (int j = 0; j < 4; ++j) s[4 * a + j] += w[j][k] * xs[a][k];
  for (int a = 0; a < 4; ++a)
    for (int j = 0; j < 4; ++j) y[a * yrow + j] += s[4 * a + j];
}

// Columns decoded per weight row at a time: the four rows' buffer and the matching
// slices of four activation rows fill about 32 KiB.
template <class F>
inline constexpr size_t kChunk = F::block_size >= 1024 ? F::block_size : 1024 / F::block_size * F::block_size;
// Buffer row stride: a multiple of 64 bytes keeps every row aligned for Load.
template <class F>
inline constexpr size_t kStride = (kChunk<F> + 15) / 16 * 16;

// Activation rows per pass of MatMulFloat: their slices of one chunk of columns
// (256 KiB) stay in the L2 cache while every tile of weight rows reads them. Each
// pass decodes the weights again, which costs less than reading more activations
// from farther (n = 512 in one pass: 2 MiB per chunk, 197 GFLOP/s for nf4 where 32
// rows ran 297).
inline constexpr size_t kFloatPassActs = 64;

// y[i * rows + r] = sum_c W[r][c] * x[i * cols + c] for the weight rows [r0, r1)
// and all n activation rows.
template <class F>
void MatMulFloat(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x,
                 size_t n, float* HWY_RESTRICT y, size_t r0, size_t r1) {
  if (n > kFloatPassActs) {
    for (size_t a0 = 0; a0 < n; a0 += kFloatPassActs)
      MatMulFloat<F>(w, rows, cols, x + a0 * cols, n - a0 < kFloatPassActs ? n - a0 : kFloatPassActs, y + a0 * rows, r0, r1);
    return;
  }
  constexpr size_t B = F::block_size, C = kChunk<F>, S = kStride<F>;
  const hn::ScalableTag<float> df;
  const size_t nb = cols / B;
  HWY_ALIGN float buf[4 * S];
  for (size_t i = 0; i < n; ++i)
    for (size_t r = r0; r < r1; ++r) y[i * rows + r] = 0.f;

  for (size_t r = r0; r < r1; r += 4) {
    const size_t nr = r1 - r < 4 ? r1 - r : 4;
    float* wr[4];
    for (size_t j = 0; j < 4; ++j) wr[j] = buf + j * S;
    // Fewer than four rows left: the missing ones repeat the last, into a scratch y.
    float spare[16];
    for (size_t c0 = 0; c0 < nb; c0 += C / B) {
      const size_t cb = nb - c0 < C / B ? nb - c0 : C / B;
      const size_t len = cb * B, k0 = c0 * B;
      for (size_t j = 0; j < nr; ++j) {
        const size_t row = r + j;
        for (size_t b = 0; b < cb; ++b) {
          // Fetch the block this row needs one chunk later (or, at the row's end, the
          // same place in the next tile): weights stream from memory once, and the
          // hardware prefetcher alone does not keep four row streams ahead.
          size_t ahead = row * nb + c0 + b + cb;
          if (c0 + b + cb >= nb) ahead += 3 * nb;
          if (ahead < rows * nb) hwy::Prefetch(w + ahead);
          Codec<F>::Decode(df, w[row * nb + c0 + b], wr[j] + b * B);
        }
      }
      const float* w0 = wr[0];
      const float* w1 = wr[nr > 1 ? 1 : 0];
      const float* w2 = wr[nr > 2 ? 2 : 0];
      const float* w3 = wr[nr > 3 ? 3 : 0];
      size_t i = 0;
      for (; i + 4 <= n; i += 4) {
        const float* xa = x + i * cols + k0;
        if (nr == 4) {
          Tile4x4(df, w0, w1, w2, w3, xa, xa + cols, xa + 2 * cols, xa + 3 * cols, len, y + i * rows + r, rows);
        } else {
          for (auto& v : spare) v = 0.f;
          Tile4x4(df, w0, w1, w2, w3, xa, xa + cols, xa + 2 * cols, xa + 3 * cols, len, spare, 4);
          for (size_t a = 0; a < 4; ++a)
            for (size_t j = 0; j < nr; ++j) y[(i + a) * rows + r + j] += spare[4 * a + j];
        }
      }
      for (; i < n; ++i) {
        const float* xa = x + i * cols + k0;
        if (nr == 4) {
          Tile4x1(df, w0, w1, w2, w3, xa, len, y + i * rows + r, 1);
        } else {
          for (auto& v : spare) v = 0.f;
          Tile4x1(df, w0, w1, w2, w3, xa, len, spare, 1);
          for (size_t j = 0; j < nr; ++j) y[i * rows + r + j] += spare[j];
        }
      }
    }
  }
}

// Prefetches the kBytes of weights that follow p at a distance. The float matvec
// reads one stream of weights, and the hardware prefetcher alone left it well below
// its speed in cache (nf4 on Zen 5: 10 GB/s from memory, 16 in L3; 14 with this).
// The integer matvec takes it in runs of blocks (q5_1 from memory: 12 GB/s in four
// runs of four, 24 with it; q4_0, q5_0, q4_1, iq4_nl, mxfp4 the same either way) and
// with scaled codes; per block (MatVecRow) it measured no faster. 8 KiB ahead: when
// the decode ran 20 GB/s in L3, 2 KiB gave 15 GB/s from memory, 4 and 8 KiB 17; with
// the faster decodes of now, 8 KiB against 4 (Zen 5, 256 MiB of weights, one thread,
// alternated on the same weights) q3_K +22%, q5_K +19%, q4_K and iq4_nl +16%, q2_K
// +9%, q5_0, q5_1, q4_1 and mxfp4 +5 to 7%, q4_0 even; 16 KiB fell back to +0 to 12%.
// The addresses are formed as integers: they may lie past the end of the weights
// (prefetches never fault).
template <size_t kBytes>
HWY_INLINE void PrefetchAhead(const void* p) {
  constexpr uintptr_t kAhead = 8192;
  for (uintptr_t k = 0; k < kBytes; k += 64) hwy::Prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) + kAhead + k));
}

// Rows of up to this many columns take x regrouped once per call for TablePair
// (32 KiB on the stack); longer rows take TableVector.
inline constexpr size_t kRegroupedColumns = 8192;

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// One row of nb blocks times x, for codecs with table vectors. pair(block, b, j, t0,
// x0, t1, x1) gives two vectors of table values of block b (2N weights from 2N j)
// and the x elements they meet; per block their dot product, times the block's
// scale once.
template <class F, class DF, class Pair>
HWY_INLINE float TableRow(DF df, const typename F::block* HWY_RESTRICT row, size_t nb, const Pair& pair) {
  constexpr size_t B = F::block_size, N = hn::MaxLanes(df);
  auto f0 = hn::Zero(df), f1 = hn::Zero(df);
  for (size_t b = 0; b < nb; ++b) {
    PrefetchAhead<sizeof(row[b])>(&row[b]);
    auto s0 = hn::Zero(df), s1 = hn::Zero(df);
    for (size_t j = 0; j < B / (2 * N); ++j) {
      hn::Vec<DF> t0, x0, t1, x1;
      pair(row[b], b, j, t0, x0, t1, x1);
      s0 = hn::MulAdd(t0, x0, s0);
      s1 = hn::MulAdd(t1, x1, s1);
    }
    const auto s = hn::Set(df, Codec<F>::BlockScale(row[b]));
    if (b % 2) f1 = hn::MulAdd(hn::Add(s0, s1), s, f1);
    else f0 = hn::MulAdd(hn::Add(s0, s1), s, f0);
  }
  return SumLanes(df, hn::Add(f0, f1));
}
#endif

// Activation groups whose largest magnitude lies below this multiply as zeros: the
// reciprocal of their step would overflow (127 / max|x| beyond FLT_MAX below 4e-37),
// and their exact products are below what f32 keeps beside any normal value.
inline constexpr float kSmallestGroupMax = 0x1p-100f;

// The largest magnitude a group's quantization takes, from the group's own (NaN if it
// holds a NaN): 0 below kSmallestGroupMax (the group multiplies as zeros), NaN for a
// NaN or an infinity (no codes and a NaN step: the row's outputs are NaN).
HWY_INLINE float UsableGroupMax(float amax) {
  if (!(amax <= std::numeric_limits<float>::max())) return std::numeric_limits<float>::quiet_NaN();
  return amax < kSmallestGroupMax ? 0.f : amax;
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Columns of x per pass of MatVecWords (8 KiB of int16 codes on the stack).
inline constexpr size_t kWordColumns = 4096;

// A group of 64 columns of QuantizeWords from its largest magnitude (NaN where it
// holds a NaN): writes its step to *xs and returns the factor to its codes, 32767 /
// max; a NaN or an infinity: the step NaN, the group's codes 0 (written here), and
// NaN returned; a group below kSmallestGroupMax: step and factor 0.
HWY_INLINE float WordGroupFactor(float amax_or_nan, int16_t* HWY_RESTRICT xq, float* HWY_RESTRICT xs) {
  const float amax = UsableGroupMax(amax_or_nan);
  *xs = amax / 32767.f;
  if (std::isnan(amax)) {
    for (size_t k = 0; k < 64; ++k) xq[k] = 0;
    return amax;
  }
  // |x| * factor stays within 32767 (1 + 2^-22): rounded, no more than 32767.
  return amax > 0 ? 32767.f / amax : 0.f;
}

#if HWY_TARGET <= HWY_AVX3
// x[0, len) (len a multiple of 64) to int16 codes for WordPair, per 64 columns one
// step max |x| / 32767 (each element moves by at most half a step) and the codes of
// the even elements, then of the odd. A NaN or an infinity: the step NaN and the
// codes 0, as QuantizeX; a group below kSmallestGroupMax: step and codes 0.
HWY_INLINE void QuantizeWords(const float* HWY_RESTRICT x, size_t len, int16_t* HWY_RESTRICT xq,
                              float* HWY_RESTRICT xs) {
  const hn::Full512<float> df;
  const hn::Full512<int32_t> di;
  const hn::Full256<int16_t> d16;
  for (size_t g = 0; g < len; g += 64) {
    const auto v0 = hn::LoadU(df, x + g), v1 = hn::LoadU(df, x + g + 16);
    const auto v2 = hn::LoadU(df, x + g + 32), v3 = hn::LoadU(df, x + g + 48);
    const auto m = hn::Max(hn::Max(hn::Abs(v0), hn::Abs(v1)), hn::Max(hn::Abs(v2), hn::Abs(v3)));
    const auto nan = hn::Or(hn::Or(hn::IsNaN(v0), hn::IsNaN(v1)), hn::Or(hn::IsNaN(v2), hn::IsNaN(v3)));
    const float factor = WordGroupFactor(
        hn::AllFalse(df, nan) ? hn::GetLane(hn::MaxOfLanes(df, m)) : std::numeric_limits<float>::quiet_NaN(), xq + g,
        xs + g / 64);
    if (std::isnan(factor)) continue;
    const auto inv = hn::Set(df, factor);
    const auto q0 = hn::NearestInt(hn::Mul(v0, inv)), q1 = hn::NearestInt(hn::Mul(v1, inv));
    const auto q2 = hn::NearestInt(hn::Mul(v2, inv)), q3 = hn::NearestInt(hn::Mul(v3, inv));
    hn::StoreU(hn::DemoteTo(d16, hn::ConcatEven(di, q1, q0)), d16, xq + g);
    hn::StoreU(hn::DemoteTo(d16, hn::ConcatEven(di, q3, q2)), d16, xq + g + 16);
    hn::StoreU(hn::DemoteTo(d16, hn::ConcatOdd(di, q1, q0)), d16, xq + g + 32);
    hn::StoreU(hn::DemoteTo(d16, hn::ConcatOdd(di, q3, q2)), d16, xq + g + 48);
  }
}

// acc + in each int32 lane the products of its two int16 of a and of b.
HWY_INLINE __m512i DotWords(__m512i acc, __m512i a, __m512i b) {
#if HWY_TARGET <= HWY_AVX3_DL  // written out, as vpdpbusd is (see DotU8I8)
  asm("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(b));
  return acc;
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}
#else
// AVX2's QuantizeWords: the same steps and codes, in the order of WordPair's four
// vectors per 64 columns (kWordOrder: the element each position takes).
inline constexpr auto kWordOrder = [] {
  std::array<uint8_t, 64> order{};
  for (size_t v = 0; v < 4; ++v)  // v: even / odd elements of bytes 0-7 and 16-23, then of 8-15 and 24-31
    for (size_t i = 0; i < 16; ++i) {
      const size_t byte = (i < 8 ? i : i + 8) + (v >= 2 ? 8 : 0);
      order[16 * v + i] = uint8_t(2 * byte + v % 2);
    }
  return order;
}();
HWY_INLINE void QuantizeWords(const float* HWY_RESTRICT x, size_t len, int16_t* HWY_RESTRICT xq,
                              float* HWY_RESTRICT xs) {
  const hn::Full256<float> df;
  const hn::Full128<int16_t> d16;
  for (size_t g = 0; g < len; g += 64) {
    hn::Vec<decltype(df)> v[8];
    auto m = hn::Zero(df);
    auto nan = hn::Ne(m, m);
    for (size_t k = 0; k < 8; ++k) {
      v[k] = hn::LoadU(df, x + g + 8 * k);
      m = hn::Max(m, hn::Abs(v[k])), nan = hn::Or(nan, hn::IsNaN(v[k]));
    }
    const float factor = WordGroupFactor(
        hn::AllFalse(df, nan) ? hn::GetLane(hn::MaxOfLanes(df, m)) : std::numeric_limits<float>::quiet_NaN(), xq + g,
        xs + g / 64);
    if (std::isnan(factor)) continue;
    const auto inv = hn::Set(df, factor);
    HWY_ALIGN int16_t q[64];
    for (size_t k = 0; k < 8; ++k) hn::Store(hn::DemoteTo(d16, hn::NearestInt(hn::Mul(v[k], inv))), d16, q + 8 * k);
    for (size_t k = 0; k < 64; ++k) xq[g + k] = q[kWordOrder[k]];
  }
}

HWY_INLINE __m256i DotWords(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
#endif

// MatVecFloat for codecs with WordPair: per 64 columns, the int32 sums of the
// products of int16 table values (|v| <= 2^14) and activation codes (|x| <= 32767),
// four per lane (at most 2147352576, below 2^31), times the block scale and the step once.
template <class F>
void MatVecWords(const typename F::block* HWY_RESTRICT w, size_t cols, const float* HWY_RESTRICT x,
                 float* HWY_RESTRICT y, size_t r0, size_t r1) {
  using C = Codec<F>;
  constexpr size_t B = F::block_size, K = B >= kWordColumns ? B : kWordColumns / B * B;
  const hn::ScalableTag<float> df;
  HWY_ALIGN int16_t xq[K];
  float xs[K / 64];
  const size_t nb = cols / B;
  for (size_t r = r0; r < r1; ++r) y[r] = 0.f;
  for (size_t c0 = 0; c0 < nb; c0 += K / B) {
    const size_t cb = nb - c0 < K / B ? nb - c0 : K / B;
    QuantizeWords(x + c0 * B, cb * B, xq, xs);
    for (size_t r = r0; r < r1; ++r) {
      const typename F::block* HWY_RESTRICT row = w + r * nb + c0;
      auto f0 = hn::Zero(df), f1 = f0;
      // Group g: 64 columns, part g % (B / 64) of block g / (B / 64). The block's
      // scale and the step multiply in turn (two broadcasts from memory).
      // One call, so that one inlined copy serves every group.
      const auto group_dot = [&](size_t g, auto& f) HWY_ATTR QNT_LAMBDA_INLINE {
        const typename F::block& blk = row[g / (B / 64)];
#if HWY_TARGET <= HWY_AVX3
        __m512i even, odd;
        C::WordPair(blk, g % (B / 64), even, odd);
        const __m512i i = DotWords(DotWords(_mm512_setzero_si512(), even, _mm512_loadu_si512(xq + 64 * g)), odd,
                                   _mm512_loadu_si512(xq + 64 * g + 32));
        const auto sum = hn::ConvertTo(df, hn::Vec<hn::Full512<int32_t>>{i});
#else
        // Two int32 sums of four products per lane each (eight would pass 2^31).
        __m256i v[4];
        C::WordPair(blk, g % (B / 64), v);
        const auto load = [&](size_t k) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + 64 * g + 16 * k)); };
        const __m256i zero = _mm256_setzero_si256();
        const __m256i lo = DotWords(DotWords(zero, v[0], load(0)), v[1], load(1));
        const __m256i hi = DotWords(DotWords(zero, v[2], load(2)), v[3], load(3));
        const auto sum = hn::Add(hn::Vec<decltype(df)>{_mm256_cvtepi32_ps(lo)}, hn::Vec<decltype(df)>{_mm256_cvtepi32_ps(hi)});
#endif
        const auto scaled = hn::Mul(sum, hn::Set(df, C::BlockScale(blk)));
        f = hn::MulAdd(scaled, hn::Set(df, xs[g]), f);
      };
      // Two sums in turn: one multiply-add per group into a single sum would wait
      // for the one before (16 weights per cycle on Zen 5, below its memory read).
      size_t g = 0;
      for (; g + 2 <= cb * (B / 64); g += 2) group_dot(g, f0), group_dot(g + 1, f1);
      if (g < cb * (B / 64)) group_dot(g, f0);
      // The table's factor last: block scale times step alone stays normal longer.
      y[r] += SumLanes(df, hn::Add(f0, f1)) * C::kWordScale;
    }
  }
}
#endif

// y[r] = sum_c W[r][c] * x[c] for rows [r0, r1), for float codecs: one row at a
// time, so that the weights stream in order.
template <class F>
void MatVecFloat(const typename F::block* HWY_RESTRICT w, size_t cols, const float* HWY_RESTRICT x,
                 float* HWY_RESTRICT y, size_t r0, size_t r1) {
  constexpr size_t B = F::block_size;
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df), nb = cols / B;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (Codec<F>::kWordPairs) {
    (void)N;
    return MatVecWords<F>(w, cols, x, y, r0, r1);
  }
#endif
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (Codec<F>::kTablePairs) {
    if (cols <= kRegroupedColumns) {
      // x's even and odd elements, N each per 2N columns, as TablePair gives the table
      // values, regrouped once for all rows: its lookups need no interleave.
      HWY_ALIGN float xr[kRegroupedColumns];
      for (size_t k = 0; k < cols; k += 2 * N) {
        const auto lo = hn::LoadU(df, x + k), hi = hn::LoadU(df, x + k + N);
        hn::Store(hn::ConcatEven(df, hi, lo), df, xr + k);
        hn::Store(hn::ConcatOdd(df, hi, lo), df, xr + k + N);
      }
      for (size_t r = r0; r < r1; ++r)
        y[r] = TableRow<F>(df, w + r * nb, nb, [&](const auto& blk, size_t b, size_t j, auto& t0, auto& x0, auto& t1, auto& x1) HWY_ATTR {
          Codec<F>::TablePair(df, blk, j, t0, t1);
          x0 = hn::Load(df, xr + b * B + 2 * N * j), x1 = hn::Load(df, xr + b * B + 2 * N * j + N);
        });
    } else {
      // Longer rows: table values in element order (more than one pass over the
      // columns, or regrouping x per block, measured slower from memory).
      for (size_t r = r0; r < r1; ++r)
        y[r] = TableRow<F>(df, w + r * nb, nb, [&](const auto& blk, size_t b, size_t j, auto& t0, auto& x0, auto& t1, auto& x1) HWY_ATTR {
          t0 = Codec<F>::TableVector(df, blk, 2 * j), t1 = Codec<F>::TableVector(df, blk, 2 * j + 1);
          x0 = hn::LoadU(df, x + b * B + 2 * N * j), x1 = hn::LoadU(df, x + b * B + 2 * N * j + N);
        });
    }
  } else
#endif
  {  // the buffer path, not instantiated for codecs with table pairs
    HWY_ALIGN float buf[B];
    for (size_t r = r0; r < r1; ++r) {
      auto f0 = hn::Zero(df), f1 = hn::Zero(df);
      float tail = 0.f;
      for (size_t b = 0; b < nb; ++b) {
        Codec<F>::Decode(df, w[r * nb + b], buf);
        const float* HWY_RESTRICT xb = x + b * B;
        size_t k = 0;
        for (; k + 2 * N <= B; k += 2 * N) {
          f0 = hn::MulAdd(hn::Load(df, buf + k), hn::LoadU(df, xb + k), f0);
          f1 = hn::MulAdd(hn::Load(df, buf + k + N), hn::LoadU(df, xb + k + N), f1);
        }
        // Blocks of one vector too (scalar loads of what a vector store just wrote
        // would wait for it: nf4 in blocks of 16 ran 0.7 GB/s on AVX-512 so).
        if (k + N <= B) {
          f0 = hn::MulAdd(hn::Load(df, buf + k), hn::LoadU(df, xb + k), f0);
          k += N;
        }
        for (; k < B; ++k) tail += buf[k] * xb[k];
      }
      y[r] = SumLanes(df, hn::Add(f0, f1)) + tail;
    }
  }
}

// ---------------------------------------------------------------------------
// Integer matvec: x is quantized once per pass to int8 in groups of kXGroup
// columns (one f32 scale per group, as GGUF's q8_0), and each codec unit's dot
// product of weight codes with activation codes is exact in int32. Codecs whose
// blocks' products add up in int32 (kBlockStep: q2_K to q6_K and iq4_xs on AVX3_DL and AVX2) take
// groups of a whole block (as GGUF's q8_K; MatVecRowScaled).

inline constexpr size_t kXGroup = 32;

// x86 without VNNI: dot products of int8 in two multiplies (AddPairs, WidenPairs).
#undef QNT_PAIR_SUMS
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3 && HWY_TARGET > HWY_AVX3_DL
#define QNT_PAIR_SUMS 1
#else
#define QNT_PAIR_SUMS 0
#endif

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
// The x86 int8 dot products, one overload per register width: acc + in each int32
// lane, the products of its four unsigned bytes of u with the four signed bytes of
// s. maddubs' int16 pair sums cannot saturate while u <= 128 and |s| <= 127.
#if HWY_TARGET <= HWY_AVX3_DL
HWY_INLINE __m128i DotU8I8(__m128i acc, __m128i u, __m128i s) { return _mm_dpbusd_epi32(acc, u, s); }
HWY_INLINE __m256i DotU8I8(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
// Highway 1.0's AVX3_DL target string lacks avx512vnni (it has avxvnni, the 128- and
// 256-bit forms), so the 512-bit instruction is written out; the CPUs of the target have it.
HWY_INLINE __m512i DotU8I8(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "vm"(s));
  return acc;
}
#else
// Without VNNI, in two steps: maddubs' int16 sums of pairs of products (AddPairs:
// added to int16 sums), then madd's int32 sums of pairs of those (WidenPairs).
// Where codes are small, several steps' pair sums add up in int16 before one
// widening (kPairSteps), which saves a multiply per step.
HWY_INLINE __m128i AddPairs(__m128i acc, __m128i u, __m128i s) { return _mm_add_epi16(acc, _mm_maddubs_epi16(u, s)); }
HWY_INLINE __m128i WidenPairs(__m128i acc, __m128i p) { return _mm_add_epi32(acc, _mm_madd_epi16(p, _mm_set1_epi16(1))); }
HWY_INLINE __m128i DotU8I8(__m128i acc, __m128i u, __m128i s) { return WidenPairs(acc, _mm_maddubs_epi16(u, s)); }
#if HWY_TARGET <= HWY_AVX2
HWY_INLINE __m256i AddPairs(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi16(acc, _mm256_maddubs_epi16(u, s));
}
HWY_INLINE __m256i WidenPairs(__m256i acc, __m256i p) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}
HWY_INLINE __m256i DotU8I8(__m256i acc, __m256i u, __m256i s) { return WidenPairs(acc, _mm256_maddubs_epi16(u, s)); }
#endif
#if HWY_TARGET <= HWY_AVX3
HWY_INLINE __m512i AddPairs(__m512i acc, __m512i u, __m512i s) {
  return _mm512_add_epi16(acc, _mm512_maddubs_epi16(u, s));
}
HWY_INLINE __m512i WidenPairs(__m512i acc, __m512i p) {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_set1_epi16(1)));
}
HWY_INLINE __m512i DotU8I8(__m512i acc, __m512i u, __m512i s) { return WidenPairs(acc, _mm512_maddubs_epi16(u, s)); }
#endif
#endif
// Signed w times s as |w| times s with w's sign (|w| <= 128 fits the unsigned operand).
HWY_INLINE void MoveSign(__m128i& w, __m128i& s) { s = _mm_sign_epi8(s, w), w = _mm_abs_epi8(w); }
#if HWY_TARGET <= HWY_AVX2
HWY_INLINE void MoveSign(__m256i& w, __m256i& s) { s = _mm256_sign_epi8(s, w), w = _mm256_abs_epi8(w); }
#endif
#if HWY_TARGET <= HWY_AVX3
HWY_INLINE void MoveSign(__m512i& w, __m512i& s) {  // AVX-512 has no sign_epi8: negate under w's sign mask
  s = _mm512_mask_sub_epi8(s, _mm512_movepi8_mask(w), _mm512_setzero_si512(), s), w = _mm512_abs_epi8(w);
}
#endif
#endif

// Whether this target has an int8 dot product instruction (DotQuads' fast paths).
inline constexpr bool kDotInstruction =
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3) || (HWY_TARGET == HWY_NEON && defined(__ARM_FEATURE_DOTPROD)) || \
    HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
    true;
#else
    false;
#endif

// acc + in each int32 lane the sum of the products of its own four bytes of w and
// x (what vpdpbusd, maddubs + madd and sdot compute). x: int8 codes; w: int8, or
// uint8 below 128 (any uint8 where the target has VNNI, whose operand is unsigned).
template <class D32, class VW, class VX>
HWY_INLINE hn::Vec<D32> DotQuads(D32 d32, VW w, VX x, hn::Vec<D32> acc) {
  (void)d32;  // the tag of the generic path only
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
  using TW = hn::TFromV<VW>;
  auto vw = w.raw;
  auto vx = x.raw;
  if constexpr (std::is_signed_v<TW>) MoveSign(vw, vx);
  acc.raw = DotU8I8(acc.raw, vw, vx);
  return acc;
#elif HWY_TARGET == HWY_NEON && defined(__ARM_FEATURE_DOTPROD)
  const hn::Repartition<int8_t, D32> d8;
  const auto vw = hn::BitCast(d8, w).raw;
  if constexpr (sizeof(vw) == 16) acc.raw = vdotq_s32(acc.raw, vw, x.raw);
  else acc.raw = vdot_s32(acc.raw, vw, x.raw);
  return acc;
#elif HWY_TARGET == HWY_SVE || HWY_TARGET == HWY_SVE2 || HWY_TARGET == HWY_SVE_256 || HWY_TARGET == HWY_SVE2_128
  return svdot_s32(acc, hn::BitCast(hn::Repartition<int8_t, D32>(), w), x);
#else
  // Each byte k of every lane, sign- or zero-extended in place, then multiplied.
  const hn::Repartition<int32_t, D32> di;
  const auto wi = hn::BitCast(di, w), xi = hn::BitCast(di, x);
  const auto byte = [&](auto v, auto k, bool sign) {
    constexpr int kShift = 8 * (3 - decltype(k)::value);
    const auto top = hn::ShiftLeft<kShift>(v);
    return sign ? hn::ShiftRight<24>(top) : hn::BitCast(di, hn::ShiftRight<24>(hn::BitCast(hn::RebindToUnsigned<decltype(di)>(), top)));
  };
  constexpr bool kSignedW = std::is_signed_v<hn::TFromV<VW>>;
  acc = hn::Add(acc, hn::Mul(byte(wi, std::integral_constant<int, 0>(), kSignedW), byte(xi, std::integral_constant<int, 0>(), true)));
  acc = hn::Add(acc, hn::Mul(byte(wi, std::integral_constant<int, 1>(), kSignedW), byte(xi, std::integral_constant<int, 1>(), true)));
  acc = hn::Add(acc, hn::Mul(byte(wi, std::integral_constant<int, 2>(), kSignedW), byte(xi, std::integral_constant<int, 2>(), true)));
  return hn::Add(acc, hn::Mul(byte(wi, std::integral_constant<int, 3>(), kSignedW), byte(xi, std::integral_constant<int, 3>(), true)));
#endif
}

// v, opaque to the compiler: a sum formed step by step through it keeps its order.
// GCC otherwise reassociates a long run of integer additions into a tree, forms
// every product first and spills them to the stack (the tile's sums on AVX2: a
// quarter of its time).
template <class V>
HWY_INLINE V InOrder(V v) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3  // x86 vector registers (not EMU128's arrays)
  asm("" : "+v"(v.raw));
#endif
  return v;
}

#if QNT_PAIR_SUMS
// DotQuads in two halves (x86 without VNNI): acc (int16) + in each int16 lane the
// products of its two bytes of w and x; WidenQuads: acc (int32) + each lane's pair of
// those int16 sums. In between, int16 sums may take further steps' products while
// they stay within int16 (kPairSteps).
template <class VP, class VW, class VX>
HWY_INLINE VP PairQuads(VW w, VX x, VP acc) {
  auto vw = w.raw;
  auto vx = x.raw;
  if constexpr (std::is_signed_v<hn::TFromV<VW>>) MoveSign(vw, vx);
  acc.raw = AddPairs(acc.raw, vw, vx);
  return acc;
}
template <class V32, class VP>
HWY_INLINE V32 WidenQuads(VP pairs, V32 acc) {
  acc.raw = WidenPairs(acc.raw, pairs.raw);
  return acc;
}
#endif

// The fewest columns that hold whole blocks and whole activation groups: passes over
// the columns are multiples of it, so that groups never straddle passes.
template <class F>
inline constexpr size_t kBlocksAndGroups = [] {
  size_t lcm = F::block_size;
  while (lcm % kXGroup != 0) lcm *= 2;  // block sizes are multiples of 8
  return lcm;
}();

// Activation rows that one pass of MatVecInt takes at once (n = 2 and 3 of the
// matmul): each weight row's blocks come from memory once and meet every one of
// them from the L1 cache, where a matvec per activation row reads all the
// weights again.
inline constexpr size_t kVecActs = 3;

// Columns of x quantized per matvec pass (8 KiB of int8 per activation row on the
// stack; a quarter of that for three rows, more passes, measured 0.66x to 0.95x).
template <class F>
inline constexpr size_t kIntChunk = kBlocksAndGroups<F> >= 8192 ? kBlocksAndGroups<F> : 8192 / kBlocksAndGroups<F> * kBlocksAndGroups<F>;

// The bias of the codes the dot products see (value = scale * (code - bias)): wide
// codes went down by 128.
template <class C>
inline constexpr int kDotBias = C::kBias - (C::kWide ? 128 : 0);

// How the dot instructions take a codec's codes: value = scale * (stored - kBias)
// (+ offset), stored = code ^ kFlip in every byte, as `type`.
template <class C>
struct DotOperand {
  static constexpr bool kSignedCodes = std::is_signed_v<typename C::code_t>;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3_DL
  // vpdpbusd takes any unsigned byte: signed codes move up by 128 (one xor).
  using type = uint8_t;
  static constexpr uint32_t kFlip = kSignedCodes ? 0x80808080u : 0u;
  static constexpr int kBias = C::kBias + (kSignedCodes ? 128 : 0);
#else
  using type = std::conditional_t<kSignedCodes || C::kWide, int8_t, uint8_t>;
  static constexpr uint32_t kFlip = C::kWide ? 0x80808080u : 0u;
  static constexpr int kBias = kDotBias<C>;
#endif
};

// How many of a unit's steps (dot products of four codes) add up in int16 before
// they widen to int32 where the target multiplies in two halves (QNT_PAIR_SUMS):
// each step adds two products of at most kCodeMax * 127 to an int16 lane, so
// steps * 2 * kCodeMax * 127 <= 32767; a power of two that divides the unit's U / 4
// steps; 1 where one instruction does both halves. Each count is a tile shape of its
// own (compile time): in units of 32 unsigned 4-bit codes take 8 (the whole unit),
// 5-bit codes and mxfp4's biased ones (kTableBias: 0 to 24) 4; in units of 16 q6_K's
// 6-bit codes 2, q2_K's and q3_K's 4 (the whole unit: 10-13% faster on Zen 1 than
// sharing q6_K's 2); signed codes 1. (Unsigned codes with a bias taken as signed
// code - bias would take more steps, but with a sign move per step and activation:
// 11-17% slower on Zen 1.)
template <class C>
inline constexpr size_t kPairSteps = [] {
  constexpr size_t kMax = std::is_signed_v<typename C::code_t> || C::kWide ? 128 : C::kCodeMax;
  static_assert(2 * kMax * 127 <= 32767, "one step's pair sums stay within int16");
  size_t steps = 1;
  if constexpr (QNT_PAIR_SUMS)
    while (2 * steps <= C::kUnit / 4 && 2 * steps * 2 * kMax * 127 <= 32767) steps *= 2;
  return steps;
}();

// QuantizeX of one row one group after another (no batches).
template <size_t U, bool kIntSums, bool kSums, size_t G>
HWY_INLINE void QuantizeGroups(const float* HWY_RESTRICT x, size_t len, int8_t* HWY_RESTRICT xq, float* HWY_RESTRICT xs,
                               int32_t* HWY_RESTRICT xsumi, float* HWY_RESTRICT xsum) {
  for (size_t begin = 0; begin < len; begin += G) {
    const size_t end = len - begin < G ? len : begin + G;
    float amax = 0;
#if HWY_TARGET != HWY_SCALAR
    // Whole groups in vectors: the same codes (NearestInt rounds ties to even, as
    // rne does; for finite x the product is within the clamp's reach).
    const hn::CappedTag<float, G> df;
    const hn::Rebind<int32_t, decltype(df)> di;
    const hn::Rebind<int8_t, decltype(df)> d8;
    const size_t N = hn::Lanes(df);
    const bool whole = end - begin == G && G % N == 0;
    if (whole) {
      auto m = hn::Zero(df);
      auto nan = hn::IsNaN(m);  // none yet
      for (size_t k = begin; k < end; k += N) {
        const auto v = hn::LoadU(df, x + k);
        m = hn::Max(m, hn::Abs(v));
        nan = hn::Or(nan, hn::IsNaN(v));
      }
      amax = hn::AllFalse(df, nan) ? hn::GetLane(hn::MaxOfLanes(df, m)) : std::numeric_limits<float>::quiet_NaN();
    }
#else
    constexpr bool whole = false;
#endif
    if (!whole)
      for (size_t k = begin; k < end; ++k) amax = x[k] != x[k] ? x[k] : max(amax, abs(x[k]));
    amax = UsableGroupMax(amax);
    // The units' sums of codes: summed in vectors where whole vectors make up a unit.
    int32_t unit_sum[G / U] = {};  // (set where `summed`; zeros keep GCC from warning)
    bool summed = false;
    if (std::isnan(amax)) {
      for (size_t k = begin; k < end; ++k) xq[k] = 0;
    } else if (whole) {
#if HWY_TARGET != HWY_SCALAR
      const auto inv = hn::Set(df, amax > 0 ? 127.f / amax : 0.f);
      const auto lo = hn::Set(di, -127), hi = hn::Set(di, 127);
      summed = (kIntSums || kSums) && U % N == 0;
      auto sum = hn::Zero(di);
      for (size_t k = begin; k < end; k += N) {
        const auto q = hn::Min(hn::Max(hn::NearestInt(hn::Mul(hn::LoadU(df, x + k), inv)), lo), hi);
        hn::StoreU(hn::DemoteTo(d8, q), d8, xq + k);
        if (summed) {
          sum = hn::Add(sum, q);
          if ((k + N - begin) % U == 0) unit_sum[(k - begin) / U] = hn::GetLane(hn::SumOfLanes(di, sum)), sum = hn::Zero(di);
        }
      }
#endif
    } else {
      const float inv = amax > 0 ? 127.f / amax : 0.f;
      for (size_t k = begin; k < end; ++k) xq[k] = int8_t(clamp(rne(x[k] * inv), -127, 127));
    }
    const float step = amax / 127.f;
    for (size_t u = begin / U; u < end / U; ++u) {
      xs[u] = step;
      if constexpr (kIntSums || kSums) {
        int32_t sum = 0;
        if (summed) {
          sum = unit_sum[u - begin / U];
        } else {
          for (size_t k = 0; k < U; ++k) sum += xq[u * U + k];
        }
        if constexpr (kIntSums) xsumi[u] = sum;
        if constexpr (kSums) xsum[u] = float(sum) * step;
      }
    }
  }
}

// Where QuantizeX's rows sit: row r's columns at x + r x_stride, its codes at xq + r
// q_stride, its units' steps and sums at xs (xsumi, xsum) + r u_stride.
struct XRows {
  const float* HWY_RESTRICT x;
  size_t x_stride;
  int8_t* HWY_RESTRICT xq;
  size_t q_stride;
  float* HWY_RESTRICT xs;
  int32_t* HWY_RESTRICT xsumi;
  float* HWY_RESTRICT xsum;
  size_t u_stride;
};

// QuantizeGroups of row r's columns c .. c + n - 1 where `at` says they sit.
template <size_t U, bool kIntSums, bool kSums, size_t G>
HWY_INLINE void QuantizeGroupsAt(const XRows& at, size_t r, size_t c, size_t n) {
  const size_t u = r * at.u_stride + c / U;
  QuantizeGroups<U, kIntSums, kSums, G>(at.x + r * at.x_stride + c, n, at.xq + r * at.q_stride + c, at.xs + u,
                                        kIntSums ? at.xsumi + u : nullptr, kSums ? at.xsum + u : nullptr);
}

#if HWY_TARGET != HWY_SCALAR
// Reduces count vectors at buf (count a multiple of N = Lanes(d)) across their lanes,
// in place: lane i of result vector k holds op over the lanes of input vector k N + i.
// Lanes combine in pairs (even with odd), halving the vectors per level, so that N
// vectors take N - 1 combines instead of N reductions across lanes each.
template <class D, class Op>
HWY_INLINE void LaneTotals(D d, hn::TFromD<D>* HWY_RESTRICT buf, size_t count, const Op& op) {
  const size_t N = hn::Lanes(d);
  for (size_t c = count; c > count / N; c /= 2)
    for (size_t k = 0; k < c / 2; ++k) {
      const auto a = hn::Load(d, buf + 2 * k * N), b = hn::Load(d, buf + (2 * k + 1) * N);
      hn::Store(op(hn::ConcatEven(d, b, a), hn::ConcatOdd(d, b, a)), d, buf + k * N);
    }
}

// QuantizeX for the whole groups (gpr per row) of `rows` rows, as one list of groups
// row after row, in batches of N = Lanes(df) groups (G <= 32 columns each) whose
// groups and units are whole vectors: the groups' largest magnitudes and the units'
// sums reduce across lanes together (LaneTotals) and the steps divide in one vector:
// the same codes and steps as one group at a time, 0.19 against 0.34 ns per element
// (Zen 5). A batch with a NaN or an infinity goes one group at a time. Returns the
// groups done: whole batches (none where vectors do not allow: capped vectors below
// the full width, where SVE's ConcatEven of 1.0.3 may take the upper lanes).
template <size_t U, bool kIntSums, bool kSums, size_t G>
HWY_INLINE size_t QuantizeBatches(const XRows& at, size_t rows, size_t gpr) {
  const hn::CappedTag<float, G> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  constexpr bool kAnySums = kIntSums || kSums;
  constexpr size_t kMaxN = hn::MaxLanes(df), UG = G / U;  // units per group
  const size_t N = hn::Lanes(df);
  if (G > kXGroup || N != hn::Lanes(hn::ScalableTag<float>()) || G % N != 0 || (kAnySums && U % N != 0)) return 0;
  HWY_ALIGN float m[kMaxN * kMaxN];
  HWY_ALIGN float inv[kMaxN], step[kMaxN];
  HWY_ALIGN int32_t sums[kAnySums ? kMaxN * kMaxN * UG : 1];
  const auto lo = hn::Set(di, -127), hi = hn::Set(di, 127);
  // Group g of the list: its row and its first column.
  const auto row = [&](size_t g) { return g / gpr; };
  const auto col = [&](size_t g) { return g % gpr * G; };
  const auto in = [&](size_t g) { return at.x + row(g) * at.x_stride + col(g); };
  const auto unit = [&](size_t g) { return row(g) * at.u_stride + col(g) / U; };  // its first unit's index
  const size_t total = rows * gpr;
  size_t g0 = 0;
  for (; g0 + N <= total; g0 += N) {
    auto nan = hn::IsNaN(hn::Zero(df));  // none yet
    for (size_t g = 0; g < N; ++g) {
      const float* HWY_RESTRICT xg = in(g0 + g);
      auto mg = hn::Zero(df);
      for (size_t k = 0; k < G; k += N) {
        const auto v = hn::LoadU(df, xg + k);
        mg = hn::Max(mg, hn::Abs(v));
        nan = hn::Or(nan, hn::IsNaN(v));
      }
      hn::Store(mg, df, m + g * N);
    }
    bool usable = hn::AllFalse(df, nan);
    if (usable) {
      LaneTotals(df, m, N, [](auto a, auto b) HWY_ATTR { return hn::Max(a, b); });
      usable = hn::AllTrue(df, hn::Le(hn::Load(df, m), hn::Set(df, std::numeric_limits<float>::max())));
    }
    if (!usable) {  // one group at a time, as without batches
      for (size_t g = g0; g < g0 + N; ++g) QuantizeGroupsAt<U, kIntSums, kSums, G>(at, row(g), col(g), G);
      continue;
    }
    // UsableGroupMax and the factors and steps of the group loop, lane by lane.
    const auto found = hn::Load(df, m);
    const auto amax = hn::IfThenZeroElse(hn::Lt(found, hn::Set(df, kSmallestGroupMax)), found);
    hn::Store(hn::IfThenElseZero(hn::Gt(amax, hn::Zero(df)), hn::Div(hn::Set(df, 127.f), amax)), df, inv);
    hn::Store(hn::Div(amax, hn::Set(df, 127.f)), df, step);
    for (size_t g = 0; g < N; ++g) {
      const float* HWY_RESTRICT xg = in(g0 + g);
      int8_t* HWY_RESTRICT qg = at.xq + row(g0 + g) * at.q_stride + col(g0 + g);
      const auto factor = hn::Set(df, inv[g]);
      auto sum = hn::Zero(di);
      for (size_t k = 0; k < G; k += N) {
        const auto q = hn::Min(hn::Max(hn::NearestInt(hn::Mul(hn::LoadU(df, xg + k), factor)), lo), hi);
        hn::StoreU(hn::DemoteTo(d8, q), d8, qg + k);
        if constexpr (kAnySums) {
          sum = hn::Add(sum, q);
          if ((k + N) % U == 0) hn::Store(sum, di, sums + (g * UG + k / U) * N), sum = hn::Zero(di);
        }
      }
      for (size_t j = 0; j < UG; ++j) at.xs[unit(g0 + g) + j] = step[g];
    }
    if constexpr (kAnySums) {
      LaneTotals(di, sums, N * UG, [](auto a, auto b) HWY_ATTR { return hn::Add(a, b); });
      // Unit t of the batch: unit t % UG of group t / UG.
      for (size_t t = 0; t < N * UG; ++t) {
        const size_t u = unit(g0 + t / UG) + t % UG;
        if constexpr (kIntSums) at.xsumi[u] = sums[t];
        if constexpr (kSums) at.xsum[u] = float(sums[t]) * step[t / UG];
      }
    }
  }
  return g0;
}
#endif

// x[0, len) to int8 codes xq, one step per group of G columns (max |x| / 127, so each
// element moves by at most half a step). A NaN or an infinity makes the group's step
// NaN and its codes 0: every output of that activation row is NaN. Per codec unit u
// of U columns: xs[u], its group's step; xsumi[u], the unit's sum of codes
// (kIntSums) and xsum[u], that sum times the step (kSums). `rows` rows of len columns
// at once where `at` says where they sit (the tile's activations: batches of groups
// span rows).
template <size_t U, bool kIntSums, bool kSums, size_t G = kXGroup>
HWY_NOINLINE void QuantizeX(const float* HWY_RESTRICT x, size_t len, int8_t* HWY_RESTRICT xq, float* HWY_RESTRICT xs,
                            int32_t* HWY_RESTRICT xsumi, float* HWY_RESTRICT xsum, size_t rows = 1,
                            size_t x_stride = 0, size_t q_stride = 0, size_t u_stride = 0) {
  const XRows at{x, x_stride, xq, q_stride, xs, xsumi, xsum, u_stride};
  const size_t gpr = len / G;  // whole groups per row
  size_t g = 0;
#if HWY_TARGET != HWY_SCALAR
  if constexpr (G <= kXGroup) g = QuantizeBatches<U, kIntSums, kSums, G>(at, rows, gpr);
#endif
  // The groups past the last batch, and each row's part of a group at its end.
  for (; g < rows * gpr; ++g) QuantizeGroupsAt<U, kIntSums, kSums, G>(at, g / gpr, g % gpr * G, G);
  if (len % G != 0)
    for (size_t r = 0; r < rows; ++r) QuantizeGroupsAt<U, kIntSums, kSums, G>(at, r, gpr * G, len % G);
}

// Bytes of codes per dot instruction in the matvec: the largest power of two that
// divides a block, at most 32 (the codecs store at most 32 bytes at once: a load
// spanning two stores would wait for both to reach the cache) and at most two units
// (so that each lane's unit scale is a broadcast or two).
// Codecs with CodeVector (x86) fill whole vectors from registers: up to 64 bytes.
template <class F>
inline constexpr size_t kCodeBytes = [] {
  if (Codec<F>::kVectorCodes) return F::block_size % 64 == 0 ? size_t{64} : PowerOfTwoIn(F::block_size);
  const size_t units = kDotInstruction ? 2 : 1;  // WidenDot's lanes mix their products: one unit
  const size_t block = PowerOfTwoIn(F::block_size);
  return block < units * Codec<F>::kUnit ? block : units * Codec<F>::kUnit;
}();

// Where the target has no int8 dot instruction: the products of Lanes(d8) codes w
// (value: code, less 128 for wide codes) and activation codes x, summed in int32
// lanes by widening multiply-adds (cheaper than DotQuads' shifts), pairing them as
// the hardware likes: the lanes of one unit only, whose sum is all that counts.
template <class C, class D8>
HWY_INLINE hn::Vec<hn::Repartition<int32_t, D8>> WidenDot(D8 d8, const typename C::code_t* HWY_RESTRICT w,
                                                         const int8_t* HWY_RESTRICT x) {
  const hn::Repartition<int16_t, D8> d16;
  const hn::Repartition<int32_t, D8> d32;
  const hn::Rebind<typename C::code_t, decltype(d16)> dw;
  const hn::Rebind<int8_t, decltype(d16)> dx;
  auto acc = hn::Zero(d32), aux = hn::Zero(d32);
  for (size_t i = 0; i < hn::Lanes(d8); i += hn::Lanes(d16)) {
    auto a = hn::PromoteTo(d16, hn::LoadU(dw, w + i));
    if constexpr (C::kWide) a = hn::Sub(a, hn::Set(d16, 128));
    acc = hn::ReorderWidenMulAccumulate(d32, a, hn::PromoteTo(d16, hn::LoadU(dx, x + i)), acc, aux);
  }
  return hn::Add(acc, aux);
}

// acc + the int32 lanes of the codes `stored` (bytes, as the codec stores them, or
// already xored with kDone) times Lanes(d8) activation codes x, on a target with a
// dot instruction.
template <class C, uint32_t kDone = 0, class D8, class V>
HWY_INLINE hn::Vec<hn::Repartition<int32_t, D8>> CodesDot(D8 d8, V stored, const int8_t* HWY_RESTRICT x,
                                                         hn::Vec<hn::Repartition<int32_t, D8>> acc) {
  using Op = DotOperand<C>;
  const hn::Repartition<int32_t, D8> d32;
  const hn::Rebind<typename Op::type, D8> dw;
  auto w = hn::BitCast(dw, stored);
  if constexpr ((Op::kFlip ^ kDone) != 0) w = hn::Xor(w, hn::BitCast(dw, hn::Set(d32, int32_t(Op::kFlip ^ kDone))));
  return DotQuads(d32, w, hn::LoadU(d8, x), acc);
}
template <class C, uint32_t kDone = 0, class D8, class V>
HWY_INLINE hn::Vec<hn::Repartition<int32_t, D8>> CodesDot(D8 d8, V stored, const int8_t* HWY_RESTRICT x) {
  return CodesDot<C, kDone>(d8, stored, x, hn::Zero(hn::Repartition<int32_t, D8>()));
}

// The int32 lanes of Lanes(d8) codes (stored as DotOperand<C> says) times as many
// activation codes: DotQuads where the target has a dot instruction, else WidenDot.
template <class C, class D8>
HWY_INLINE hn::Vec<hn::Repartition<int32_t, D8>> UnitDot(D8 d8, const typename C::code_t* HWY_RESTRICT w,
                                                        const int8_t* HWY_RESTRICT x) {
  if constexpr (kDotInstruction) {
    return CodesDot<C>(d8, hn::Load(d8, reinterpret_cast<const int8_t*>(w)), x);
  } else {
    using Op = DotOperand<C>;
    static_assert(Op::kFlip == (C::kWide ? 0x80808080u : 0u), "WidenDot flips wide codes only");
    return WidenDot<C>(d8, w, x);
  }
}

// Whether the matvec's unit sums of activations come multiplied by -kBias: for
// codecs with a bias and no offset, whose bias term is then one product per unit.
template <class C>
inline constexpr bool kBiasSums = !C::kOffset && DotOperand<C>::kBias != 0;

// The code vectors of codec C's blocks have L8 bytes. Lane l (int32) of vector v holds
// codes 4l..4l+3 of it, of the weights' unit `unit[v][l]` (CodeRun's order); all units
// of a vector lie in one vector of L8 / 4 unit scales, number comb[v].
template <class C, size_t L8>
struct VectorUnits {
  static constexpr size_t kVectors = C::kSize / L8, kLanes = L8 / 4;
  alignas(64) int32_t unit[kVectors][kLanes] = {};
  size_t comb[kVectors] = {};
  bool valid = true;
  // Whether vector v + 1 holds vector v's units lane for lane (as the low and the
  // high nibbles of the same bytes do): their dot products may add up in int32.
  bool same_as_next[kVectors] = {};
  constexpr VectorUnits() {
    for (size_t v = 0; v < kVectors; ++v)
      for (size_t l = 0; l < kLanes; ++l) {
        const size_t code = v * L8 + 4 * l, u = (16 * C::CodeRun(L8, code / 16) + code % 16) / C::kUnit;
        if (l == 0) comb[v] = u / kLanes;
        valid = valid && u / kLanes == comb[v];
        unit[v][l] = int32_t(u % kLanes);
      }
    for (size_t v = 0; v + 1 < kVectors; ++v) {
      same_as_next[v] = comb[v] == comb[v + 1];
      for (size_t l = 0; l < kLanes; ++l) same_as_next[v] = same_as_next[v] && unit[v][l] == unit[v + 1][l];
    }
  }
};
template <class C, size_t L8>
inline constexpr VectorUnits<C, L8> kVectorUnits{};

// Puts each block's activation codes in the order of its code vectors (CodeRun):
// once per pass, for all rows.
template <class F, size_t L8>
HWY_INLINE void ToCodeOrder(int8_t* HWY_RESTRICT xq, size_t blocks) {
  using C = Codec<F>;
  constexpr size_t B = F::block_size;
  constexpr bool kIdentity = [] {
    for (size_t k = 0; k < B / 16; ++k)
      if (C::CodeRun(L8, k) != k) return false;
    return true;
  }();
  if constexpr (!kIdentity) {
    static_assert(B % 16 == 0, "whole runs of 16");
    for (size_t b = 0; b < blocks; ++b) {
      int8_t block[B];
      std::memcpy(block, xq + b * B, B);
      for (size_t k = 0; k < B / 16; ++k) std::memcpy(xq + b * B + 16 * k, block + 16 * C::CodeRun(L8, k), 16);
    }
  }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// BlockDot for codecs with CodeVector: the codes go from the block into the dot
// products in registers, a whole vector at a time (up to four units of 16 or two of
// 32), and each lane's unit scale is looked up in the block's vectors of them.
// The activations are in the codes' order (ToCodeOrder).
template <class F, class DF, class VF>
HWY_INLINE void BlockDotVectors(DF df, const typename F::block& w, const int8_t* HWY_RESTRICT xq,
                                const float* HWY_RESTRICT xs, const float* HWY_RESTRICT xsum, VF& f0, VF& f1) {
  using C = Codec<F>;
  using Op = DotOperand<C>;
  constexpr size_t B = F::block_size, U = C::kUnit, NU = B / U, NF = hn::MaxLanes(df);
  constexpr size_t NC = NU < NF ? NU : NF;  // units per vector of scales
  static_assert(C::kVectorScales && (NC == NF || 2 * NC == NF) && NU % NC == 0 && (U == 16 || U == 32 || U == 64));
  const hn::Repartition<int8_t, DF> d8;
  const hn::Repartition<uint8_t, DF> du8;
  const hn::Repartition<int32_t, DF> d32;
  const hn::CappedTag<float, NC> dc;
  CodesBuffer<C> buf;
  C::Scales(w, buf);
  // comb = weight scale * activation step per unit, in vectors of NF lanes (zero
  // above NC); the bias and offset terms into f0, whose lanes are summed anyway.
  hn::Vec<DF> comb[NU / NC];
  for (size_t u = 0; u < NU; u += NC) {
    const auto sc = hn::Load(dc, buf.scale + u);
    auto term = hn::Zero(dc);
    if constexpr (kBiasSums<C>) {
      term = hn::Mul(sc, hn::LoadU(dc, xsum + u));
    } else if constexpr (C::kOffset) {
      auto t = hn::Load(dc, buf.offset + u);
      if constexpr (Op::kBias != 0) t = hn::NegMulAdd(hn::Set(dc, float(Op::kBias)), sc, t);
      term = hn::Mul(t, hn::LoadU(dc, xsum + u));
    }
    const auto c = hn::Mul(sc, hn::LoadU(dc, xs + u));
    if constexpr (NC == NF) {
      comb[u / NC] = c, f0 = hn::Add(f0, term);
    } else {
      comb[u / NC] = hn::ZeroExtendVector(df, c), f0 = hn::Add(f0, hn::ZeroExtendVector(df, term));
    }
  }
  constexpr size_t L8 = hn::MaxLanes(d8);
  constexpr const VectorUnits<C, L8>& kUnits = kVectorUnits<C, L8>;
  static_assert(kUnits.valid && NF == L8 / 4, "each code vector's units in one vector of scales");
  auto i = hn::Zero(d32);
  size_t sums = 0;  // converted so far: they alternate between f0 and f1
  for (size_t v = 0; v < B / L8; ++v) {
    i = CodesDot<C, C::kFlipped>(d8, C::CodeVector(du8, w, v), xq + v * L8, i);
    if (kUnits.same_as_next[v]) continue;
    const auto s = hn::TableLookupLanes(comb[kUnits.comb[v]], hn::IndicesFromVec(df, hn::Load(d32, kUnits.unit[v])));
    if (sums++ % 2) f1 = hn::MulAdd(hn::ConvertTo(df, i), s, f1);
    else f0 = hn::MulAdd(hn::ConvertTo(df, i), s, f0);
    i = hn::Zero(d32);
  }
}
#endif

// One block of a weight row times its activation codes. Per unit u: the int32 dot
// of its stored codes with the activation codes, times comb = weight scale *
// activation step, into the float lanes of f0 and f1 (two chains); plus
// (offset - kBias * scale) * (the unit's sum of activations) into o0 and o1: bias
// and offset need only the activations' unit sums (xsum; see kBiasSums).
template <class F, class DF, class VF>
HWY_INLINE void BlockDot(DF df, const typename F::block& w, const int8_t* HWY_RESTRICT xq,
                         const float* HWY_RESTRICT xs, const float* HWY_RESTRICT xsum, VF& f0, VF& f1, float& o0,
                         float& o1) {
  using C = Codec<F>;
  using Op = DotOperand<C>;
  constexpr size_t B = F::block_size, U = C::kUnit, NU = B / U;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (C::kVectorCodes) {
    BlockDotVectors<F>(df, w, xq, xs, xsum, f0, f1);
  } else
#endif
  {  // an else: the buffer path is not instantiated for codecs it never serves
    CodesBuffer<C> buf;
    C::Codes(w, buf);
    HWY_ALIGN float comb[NU];
#if HWY_TARGET != HWY_SCALAR
    if (C::kVectorScales && NU % hn::Lanes(df) == 0) {
      for (size_t u = 0; u < NU; u += hn::Lanes(df)) {
        const auto sc = hn::Load(df, buf.scale + u);
        hn::Store(hn::Mul(sc, hn::LoadU(df, xs + u)), df, comb + u);
        // Into f0: its lanes are summed in the end anyway.
        if constexpr (kBiasSums<C>) {
          f0 = hn::MulAdd(sc, hn::LoadU(df, xsum + u), f0);
        } else if constexpr (C::kOffset) {
          auto t = hn::Load(df, buf.offset + u);
          if constexpr (Op::kBias != 0) t = hn::NegMulAdd(hn::Set(df, float(Op::kBias)), sc, t);
          f0 = hn::MulAdd(t, hn::LoadU(df, xsum + u), f0);
        }
      }
    } else
#endif
    // Scalars: vector loads of scales the codec stored one by one would wait for the stores.
    for (size_t u = 0; u < NU; ++u) {
      comb[u] = buf.scale[u] * xs[u];
      if constexpr (kBiasSums<C>) (u % 2 ? o1 : o0) += buf.scale[u] * xsum[u];
      else if constexpr (C::kOffset) (u % 2 ? o1 : o0) += (buf.offset[u] - float(Op::kBias) * buf.scale[u]) * xsum[u];
    }
#if HWY_TARGET == HWY_SCALAR
    using Code = typename Op::type;
    (void)df;
    for (size_t u = 0; u < NU; ++u) {
      int32_t dot = 0;
      for (size_t k = u * U; k < u * U + U; ++k) dot += int32_t(Code(buf.codes[k] ^ Code(Op::kFlip & 0xFF))) * int32_t(xq[k]);
      (u % 2 ? f1 : f0) += float(dot) * comb[u];
    }
#else
    const hn::Repartition<int8_t, DF> d8;
    const hn::Repartition<int32_t, DF> d32;
    const size_t L8 = hn::Lanes(d8);
    // Two units per vector: lane i takes unit 2j + (i in the upper half) of vector j
    // from the vector of comb that holds it (a lookup; comb is stored in whole vectors).
    const size_t NF = hn::Lanes(df);
    const auto upper = hn::And(hn::VecFromMask(d32, hn::Gt(hn::Iota(d32, 0), hn::Set(d32, int32_t(NF / 2) - 1))), hn::Set(d32, 1));
    for (size_t v = 0; v < B; v += L8) {
      const auto i = UnitDot<C>(d8, buf.codes + v, xq + v);
      // Each lane's unit scale: the vector's unit, or the lower half's and the upper half's.
      const size_t pair = 2 * (v / L8);
      const auto s = U >= L8 ? hn::Set(df, comb[v / U])
                             : hn::TableLookupLanes(hn::Load(df, comb + pair / NF * NF),
                                                    hn::IndicesFromVec(df, hn::Add(upper, hn::Set(d32, int32_t(pair % NF)))));
      if ((v / L8) % 2) f1 = hn::MulAdd(hn::ConvertTo(df, i), s, f1);
      else f0 = hn::MulAdd(hn::ConvertTo(df, i), s, f0);
    }
#endif
  }
}

// One weight row (cb blocks) times the quantized activations of its pass, read in
// one sequential stream; even and odd blocks add to their own accumulators.
template <class F>
HWY_INLINE float MatVecRow(const typename F::block* HWY_RESTRICT w, size_t cb, const int8_t* HWY_RESTRICT xq,
                           const float* HWY_RESTRICT xs, const float* HWY_RESTRICT xsum) {
  constexpr size_t B = F::block_size, NU = B / Codec<F>::kUnit;
#if HWY_TARGET == HWY_SCALAR
  const hn::ScalableTag<float> df;
  float f0 = 0.f, f1 = 0.f, f2 = 0.f, f3 = 0.f;
#else
  const hn::Repartition<float, hn::CappedTag<int8_t, kCodeBytes<F>>> df;
  auto f0 = hn::Zero(df), f1 = hn::Zero(df), f2 = hn::Zero(df), f3 = hn::Zero(df);
#endif
  float o0 = 0.f, o1 = 0.f, o2 = 0.f, o3 = 0.f;
  size_t b = 0;
  for (; b + 2 <= cb; b += 2) {
    BlockDot<F>(df, w[b], xq + b * B, xs + b * NU, xsum + b * NU, f0, f1, o0, o1);
    BlockDot<F>(df, w[b + 1], xq + (b + 1) * B, xs + (b + 1) * NU, xsum + (b + 1) * NU, f2, f3, o2, o3);
  }
  if (b < cb) BlockDot<F>(df, w[b], xq + b * B, xs + b * NU, xsum + b * NU, f0, f1, o0, o1);
#if HWY_TARGET == HWY_SCALAR
  return ((f0 + f1) + (f2 + f3)) + ((o0 + o1) + (o2 + o3));
#else
  return SumLanes(df, hn::Add(hn::Add(f0, f1), hn::Add(f2, f3))) + ((o0 + o1) + (o2 + o3));
#endif
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Per 128 bits, the sums of the four int32 lanes of a, b, c and d, in that order (what
// two rounds of vphaddd give), in unpacks and adds: Zen 1 runs vphaddd partly on the
// pipe of the multiplies. Measured in the AVX2 runs, alternated on Zen 1: paired
// blocks iq4_nl +4 to +5%, q5_0 0 to +4%, q4_0 even; q8_0's single blocks (with
// their halves added first, in 128 bits) +3 to +5%.
template <class D32, class V = hn::Vec<D32>>
HWY_INLINE V SumQuads(D32 d32, V a, V b, V c, V d) {
  const hn::Repartition<int64_t, D32> d64;
  const auto ab = hn::BitCast(d64, hn::Add(hn::InterleaveLower(d32, a, b), hn::InterleaveUpper(d32, a, b)));
  const auto cd = hn::BitCast(d64, hn::Add(hn::InterleaveLower(d32, c, d), hn::InterleaveUpper(d32, c, d)));
  return hn::Add(hn::BitCast(d32, hn::InterleaveLower(d64, ab, cd)), hn::BitCast(d32, hn::InterleaveUpper(d64, ab, cd)));
}

// Blocks per run of MatVecRowRuns (a vector of their scales).
template <class D8>
inline constexpr size_t kRunBlocks = hn::MaxLanes(D8()) / 4;

// Puts the activation codes of the first `blocks` blocks (whole runs) in the order
// of the codec's run vectors: where a group's vectors are halves of its blocks
// (RunNibbles; blocks kRunStride apart), group after group, each its blocks' first
// 16, then their last 16.
template <class C, class D8>
HWY_INLINE void ToRunOrder(int8_t* HWY_RESTRICT xq, size_t blocks) {
  constexpr size_t G = C::template kRunGroup<D8>, R = kRunBlocks<D8>, S = kRunStride<D8>;
  if constexpr (G == hn::MaxLanes(D8()) / 16) {
    static_assert(S == 1 ? R % G == 0 : S * G == R, "the groups fill a run");
    for (size_t b = 0; b + R <= blocks; b += R) {
      int8_t run[32 * R];
      std::memcpy(run, xq + 32 * b, sizeof(run));
      for (size_t q = 0; q < R / G; ++q) {  // group q: blocks first + i S
        const size_t first = S == 1 ? q * G : q;
        for (size_t k = 0; k < 2 * G; ++k)
          std::memcpy(xq + 32 * (b + q * G) + 16 * k, run + 32 * (first + (k % G) * S) + 16 * (k / G), 16);
      }
    }
  }
}

// MatVecRow for blocks of one unit of 32 weights whose codec decodes runs of blocks in
// registers (Codec::kRuns): per run of Lanes(df) blocks one gather of their scales
// (and the bias or offset terms in lanes); per vector of one block (8-bit codes on
// AVX2), of halves of two (4- and 5-bit codes on AVX2) or of halves of four
// (AVX-512; halves: activations in ToRunOrder) their codes decoded straight into the
// dot product, nothing stored. Each lane's scale (weight scale times
// activation step) is picked from the run's vector. A row's last blocks short of a
// run are copied into a run of zero blocks: the pass's activations past its blocks
// are zero (PadRuns), so the padding adds exact zeros, and no second decode path
// is compiled per format.
template <class F>
HWY_INLINE float MatVecRowRuns(const typename F::block* HWY_RESTRICT w, size_t cb, const int8_t* HWY_RESTRICT xq,
                               const float* HWY_RESTRICT xs, const float* HWY_RESTRICT xsum) {
  using C = Codec<F>;
  using Op = DotOperand<C>;
  using Block = typename F::block;
  static_assert(F::block_size == 32 && C::kUnit == 32, "runs of blocks of one unit of 32");
  const hn::ScalableTag<int8_t> d8;
  const hn::Repartition<uint8_t, decltype(d8)> du8;
  const hn::Repartition<int32_t, decltype(d8)> d32;
  const hn::Repartition<float, decltype(d8)> df;
  // Blocks per vector, per run, per group of vectors (C::kRunGroup: see RunNibbles).
  constexpr size_t P = hn::MaxLanes(d8) / 32, R = kRunBlocks<decltype(d8)>, G = C::template kRunGroup<decltype(d8)>;
  static_assert(R == hn::MaxLanes(df) && R % (4 * G) == 0 && G % P == 0, "whole groups, four at a time, per run");
  // Lane l of a vector belongs to block l / 8 of its group, or with halves of four
  // blocks per vector to block l / 4.
  const auto lane_block = hn::ShiftRight<G == 2 * P ? 2 : 3>(hn::Iota(d32, 0));
  auto f0 = hn::Zero(df), f1 = hn::Zero(df), f2 = hn::Zero(df), f3 = hn::Zero(df), o = hn::Zero(df);
  Block tail[R];
  for (size_t b = 0; b < cb; b += R) {
    const Block* HWY_RESTRICT wr = w + b;
    if (cb - b < R) {
      std::memset(static_cast<void*>(tail), 0, sizeof(tail));
      std::memcpy(static_cast<void*>(tail), w + b, (cb - b) * sizeof(Block));
      wr = tail;
    }
    PrefetchAhead<R * sizeof(Block)>(wr);
    auto off = hn::Zero(df);
    const auto sc = C::RunScales(df, wr, off);
    const auto bits = C::RunBits(du8, wr);
    const auto comb = hn::Mul(sc, hn::LoadU(df, xs + b));
    if constexpr (kBiasSums<C>) {
      o = hn::MulAdd(sc, hn::LoadU(df, xsum + b), o);
    } else if constexpr (C::kOffset) {
      if constexpr (Op::kBias != 0) off = hn::NegMulAdd(hn::Set(df, float(Op::kBias)), sc, off);
      o = hn::MulAdd(off, hn::LoadU(df, xsum + b), o);
    }
    // The vectors of a group share their lanes' blocks: their dot products add up in
    // int32 and meet the scales once.
    // (Taken with 64 lanes, where a group's blocks are consecutive: kRunStride.)
    const auto group_dot = [&](size_t g, auto& acc) {  // g: the group's first block, from b
      auto i = hn::Zero(d32);
      for (size_t h = 0; h < G / P; ++h)
        i = CodesDot<C, C::kFlipped>(d8, C::RunCodes(du8, wr, g, h, bits), xq + (b + g + h * P) * 32, i);
      const auto s = hn::TableLookupLanes(comb, hn::IndicesFromVec(df, hn::Add(lane_block, hn::Set(d32, int32_t(g)))));
      acc = hn::MulAdd(hn::ConvertTo(df, i), s, acc);
    };
#if HWY_TARGET == HWY_AVX2
    if constexpr (R == 8 && P == 1) {
      // AVX2: the blocks' int32 lanes summed in vectors, so that eight blocks meet
      // their scales in one conversion and multiply-add, where one per block or pair
      // took a lane permute of its scale (4 cycles on Zen 1) as well. The sums in
      // unpacks and adds (SumQuads), with no lane permute (neither `vphaddd` nor
      // `vperm2f128`: both take the multiply pipe's time on Zen 1).
      const hn::Rebind<typename Op::type, decltype(d8)> dw;
      // The activations of vector h of group k (ToRunOrder).
      const auto at = [&](size_t k, size_t h) { return xq + (b + G * k + h) * 32; };
      const auto dot = [&](size_t k, size_t h, auto acc) {
        return CodesDot<C, C::kFlipped>(d8, C::RunCodes(du8, wr, k, h, bits), at(k, h), acc);
      };
      if constexpr (G == 1) {
        // Block k whole in vector k: its two 128-bit halves added (an extract), then
        // blocks 0-3 and 4-7 summed in 128 bits and joined in block order.
        const hn::Full128<int32_t> d4;
        const auto one = [&](size_t k) {
          const auto v = dot(k, 0, hn::Zero(d32));
          return hn::Add(hn::LowerHalf(d4, v), hn::UpperHalf(d4, v));
        };
        const auto all = hn::Combine(d32, SumQuads(d4, one(4), one(5), one(6), one(7)), SumQuads(d4, one(0), one(1), one(2), one(3)));
        f0 = hn::MulAdd(hn::ConvertTo(df, all), comb, f0);
      } else {
        // Blocks k and k + 4 in the halves of two vectors (their first and last 16
        // weights), which share the lanes' blocks: small codes add their int16 pair
        // sums before one widening. The sums end in block order (kRunStride).
        static_assert(G == 2 && Op::kFlip == 0 && kRunStride<decltype(d8)> == 4);
        const auto pair = [&](size_t k) {
          if constexpr (2 * 2 * C::kCodeMax * 127 <= 32767 && !std::is_signed_v<typename Op::type>) {
            auto p = hn::Zero(hn::Repartition<int16_t, decltype(d8)>());
            for (size_t h = 0; h < 2; ++h)
              p = PairQuads(hn::BitCast(dw, C::RunCodes(du8, wr, k, h, bits)), hn::LoadU(d8, at(k, h)), p);
            return WidenQuads(p, hn::Zero(d32));
          } else {
            return dot(k, 1, dot(k, 0, hn::Zero(d32)));
          }
        };
        f0 = hn::MulAdd(hn::ConvertTo(df, SumQuads(d32, pair(0), pair(1), pair(2), pair(3))), comb, f0);
      }
    } else
#endif
    {
      for (size_t g = 0; g < R; g += 4 * G) group_dot(g, f0), group_dot(g + G, f1), group_dot(g + 2 * G, f2), group_dot(g + 3 * G, f3);
    }
  }
  return SumLanes(df, hn::Add(hn::Add(hn::Add(f0, f1), hn::Add(f2, f3)), o));
}

// For MatVecRowRuns: activations of zero (codes, steps and sums) from block cb of
// the pass to the end of its last run, then the activation codes in run order.
template <class F>
HWY_INLINE void PadRuns(int8_t* HWY_RESTRICT xq, float* HWY_RESTRICT xs, float* HWY_RESTRICT xsum, size_t cb) {
  using D8 = hn::ScalableTag<int8_t>;
  constexpr size_t R = kRunBlocks<D8>;
  static_assert(kIntChunk<F> / 32 % R == 0, "passes of whole runs");
  const size_t padded = (cb + R - 1) / R * R;
  std::memset(xq + cb * 32, 0, (padded - cb) * 32);
  for (size_t b = cb; b < padded; ++b) xs[b] = xsum[b] = 0.f;
  ToRunOrder<Codec<F>, D8>(xq, padded);
}
#endif

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2
// Codecs whose blocks' dot products add up in int32 (ScaledCodes, UnitScaleBytes;
// UnitBytes on AVX2): their matvec takes one activation step per block (as GGUF's
// q8_K).
template <class C>
inline constexpr bool kBlockStep = HWY_TARGET == HWY_AVX2 ? C::kUnitBytes : C::kScaledCodes || C::kUnitScaleBytes;

// What MatVecRowScaled needs of a pass's activations, per block: `step`, and the
// units' sums of codes as int16 (`usum`, for MinProducts) or the block's sum times
// -kScaledBias (`bias`). Blocks past the pass: step and bias 0.
template <class F, size_t kBlocks>
struct BlockActivations {
  static constexpr size_t NU = F::block_size / Codec<F>::kUnit, kPadded = (kBlocks + 15) / 16 * 16;
  HWY_ALIGN float step[kPadded];
  HWY_ALIGN float bias[kPadded];
  HWY_ALIGN int16_t usum[kBlocks * NU];
  void Set(const float* HWY_RESTRICT xs, const int32_t* HWY_RESTRICT xsumi, size_t blocks) {
    for (size_t b = 0; b < kPadded; ++b) {
      step[b] = b < blocks ? xs[b * NU] : 0.f;
      if constexpr (Codec<F>::kScaledBias != 0) {
        int32_t sum = 0;
        for (size_t u = 0; b < blocks && u < NU; ++u) sum += xsumi[b * NU + u];
        bias[b] = -float(Codec<F>::kScaledBias) * float(sum);
      } else if (b < blocks) {
        for (size_t u = 0; u < NU; ++u) usum[b * NU + u] = int16_t(xsumi[b * NU + u]);
      }
    }
  }
};

// The unit of byte lane k of code vector v (L8 lanes, in CodeVector's order).
template <class C, size_t L8>
constexpr size_t UnitOfCode(size_t v, size_t k) {
  const size_t at = L8 * v + k;
  return (16 * C::CodeRun(L8, at / 16) + at % 16) / C::kUnit;
}
// Per code vector of L8 codes, the index of a byte shuffle that puts each lane's
// unit (its byte in a vector of the block's scale bytes) in the low byte of every
// kLane-byte lane; the other bytes 0x80 (zero for vpshufb, masked for vpermb).
template <class C, size_t L8, size_t kLane>
struct UnitByteIndex {
  static constexpr size_t kVectors = C::kSize / L8;
  alignas(64) uint8_t index[kVectors][L8] = {};
  constexpr UnitByteIndex() {
    for (size_t v = 0; v < kVectors; ++v)
      for (size_t k = 0; k < L8; ++k) index[v][k] = k % kLane == 0 ? uint8_t(UnitOfCode<C, L8>(v, k)) : uint8_t{0x80};
  }
};
template <class C, size_t L8, size_t kLane>
inline constexpr UnitByteIndex<C, L8, kLane> kUnitByteIndex{};

#if HWY_TARGET == HWY_AVX3_DL
// Per code vector of 64 codes, the index of a permute of T (vpermw, vpermd) that puts
// each int32 lane's unit (its T in a vector of the block's unit scales) in the lane's
// low T; with words the high ones are masked to zero.
template <class C, class T>
struct UnitLanes {
  static constexpr size_t kVectors = C::kSize / 64, kPerLane = 4 / sizeof(T);
  alignas(64) T index[kVectors][16 * kPerLane] = {};
  constexpr UnitLanes() {
    for (size_t v = 0; v < kVectors; ++v)
      for (size_t l = 0; l < 16; ++l) index[v][kPerLane * l] = T(UnitOfCode<C, 64>(v, 4 * l));
  }
};
template <class C, class T>
inline constexpr UnitLanes<C, T> kUnitLanes{};
#endif
#endif

#if HWY_TARGET == HWY_AVX2
// Per code vector of 32 codes, the index of a byte shuffle that puts each int16
// lane's unit scale there out of a vector of eight units' int16 scales in each
// 128-bit half: units 0-7, or 8-15 where `high`. Every vector of the codecs that
// take it draws on one group of eight (one_group).
template <class C>
struct UnitWordIndex {
  static constexpr size_t kVectors = C::kSize / 32;
  alignas(32) uint8_t index[kVectors][32] = {};
  bool high[kVectors] = {};
  bool one_group = true;
  constexpr UnitWordIndex() {
    for (size_t v = 0; v < kVectors; ++v) {
      high[v] = UnitOfCode<C, 32>(v, 0) >= 8;
      for (size_t k = 0; k < 32; ++k) {
        const size_t u = UnitOfCode<C, 32>(v, k);
        index[v][k] = uint8_t(2 * (u % 8) + k % 2);
        one_group = one_group && (u >= 8) == high[v];
      }
    }
  }
};
template <class C>
inline constexpr UnitWordIndex<C> kUnitWordIndex{};

// MatVecRow for codecs with UnitBytes (AVX2): per code vector, vpmaddubsw's int16
// pair sums times their units' integer scales in vpmaddwd (which the int8 dot
// product needs anyway), so that a block's products add up in int32 and meet
// the super-scale and the activation step once; the code bias and the mins once
// per block against the units' activation sums. No per-vector permute,
// conversion or float multiply-add.
template <class F, class Acts>
HWY_INLINE float MatVecRowUnits(const typename F::block* HWY_RESTRICT w, size_t cb, const int8_t* HWY_RESTRICT xq,
                                const Acts& acts) {
  using C = Codec<F>;
  using Block = typename F::block;
  constexpr size_t B = F::block_size, NU = B / C::kUnit;
  static_assert(hn::MaxLanes(hn::CappedTag<int8_t, kCodeBytes<F>>()) == 32 && B % 32 == 0 && DotOperand<C>::kFlip == 0 && !C::kWide,
                "codes as stored in vectors of 32, activations in their order");
  // Pair sums of codes (signed ones: their magnitudes) times activations of at most
  // 127 stay below 2^15.
  static_assert(2 * C::kCodeMax * 127 <= 32767, "no saturation in vpmaddubsw");
  const hn::Full256<uint8_t> du8;
  // One accumulator of each: a block's work hides the multiply-add's latency, and
  // one call inlines one copy of the block's code.
  __m256 f = _mm256_setzero_ps(), m = f;
  const auto block_dot = [&](size_t b) HWY_ATTR QNT_LAMBDA_INLINE {
    const Block& blk = w[b];
    PrefetchAhead<sizeof(Block)>(&blk);
    __m128i scales, mins = _mm_setzero_si128();
    float d, dmin = 0.f;
    C::UnitBytes(blk, scales, mins, d, dmin);
    // Each int16 lane's unit scale: unsigned scale bytes placed in the low byte of
    // their lanes (a zero above); signed ones widened once per block to int16, eight
    // units in each 128-bit half, and their words placed (no shift per vector:
    // Zen 1 has one pipe for vector shifts).
    [[maybe_unused]] __m256i both, low8, high8;
    if constexpr (C::kSignedUnitScales) {
      static_assert(kUnitWordIndex<C>.one_group, "each vector's units within 0-7 or 8-15");
      low8 = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(scales));
      high8 = _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_srli_si128(scales, 8)));
    } else {
      both = _mm256_broadcastsi128_si256(scales);
    }
    const int8_t* HWY_RESTRICT xb = xq + b * B;
    __m256i acc = _mm256_setzero_si256();
    HWY_UNROLL(8)  // constant shifts and table rows
    for (size_t v = 0; v < B / 32; ++v) {
      __m256i codes = C::CodeVector(du8, blk, v).raw, xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb + 32 * v));
      if constexpr (std::is_signed_v<typename C::code_t>) MoveSign(codes, xv);
      const __m256i pairs = _mm256_maddubs_epi16(codes, xv);
      __m256i words;
      if constexpr (C::kSignedUnitScales) {
        const auto& table = kUnitWordIndex<C>;
        words = _mm256_shuffle_epi8(table.high[v] ? high8 : low8, _mm256_load_si256(reinterpret_cast<const __m256i*>(table.index[v])));
      } else {
        words = _mm256_shuffle_epi8(both, _mm256_load_si256(reinterpret_cast<const __m256i*>(kUnitByteIndex<C, 32, 2>.index[v])));
      }
      acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, words));
    }
    const int16_t* HWY_RESTRICT usum = acts.usum + b * NU;
    if constexpr (C::kBias != 0) {  // value = scale * (code - kBias): a power of two
      static_assert(std::has_single_bit(unsigned(C::kBias)));
      constexpr int kShift = std::countr_zero(unsigned(C::kBias));
      acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(UnitProducts<NU, C::kSignedUnitScales>(scales, usum), kShift));
    }
    const float step = acts.step[b];
    f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_set1_ps(d * step), f);
    if constexpr (C::kOffset) m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(UnitProducts<NU, false>(mins, usum)), _mm256_set1_ps(dmin * step), m);
  };
  for (size_t b = 0; b < cb; ++b) block_dot(b);
  return SumLanes(hn::Full256<float>(), hn::Vec<hn::Full256<float>>{_mm256_sub_ps(f, m)});
}
#endif

#if HWY_TARGET == HWY_AVX3_DL
// MatVecRow for codecs with kBlockStep: a block's dot products add up in int32
// lanes, of scaled codes or each lane times its unit's scale (vpdpwssd where the
// lanes stay below 2^15, vpmulld where they do not: kWideUnitLanes), and meet the float scales once (super-scale times step, formed
// for sixteen blocks at a time); the units' terms once per block (MinProducts) or
// per sixteen blocks (kScaledBias).
template <class F, class Acts>
HWY_INLINE float MatVecRowScaled(const typename F::block* HWY_RESTRICT w, size_t cb, const int8_t* HWY_RESTRICT xq,
                                 const Acts& acts) {
  using C = Codec<F>;
  using Block = typename F::block;
  constexpr size_t B = F::block_size, NU = B / C::kUnit;
  const hn::ScalableTag<int8_t> d8;
  const hn::Repartition<uint8_t, decltype(d8)> du8;
  const hn::Repartition<int32_t, decltype(d8)> d32;
  const hn::Repartition<float, decltype(d8)> df;
  constexpr size_t L8 = hn::MaxLanes(d8);
  static_assert(L8 == kCodeBytes<F> && B % L8 == 0 && hn::MaxLanes(df) == 16,
                "the activations in the order of CodeVector's vectors (ToCodeOrder); sixteen blocks per run");
  // One accumulator of each, as in MatVecRowUnits.
  auto f = hn::Zero(df), o = hn::Zero(df);
  __m256 m = _mm256_setzero_ps();
  HWY_ALIGN float scale[16], minor_scale[16];
  const auto block_dot = [&](size_t b, size_t k) HWY_ATTR QNT_LAMBDA_INLINE {
    const int8_t* HWY_RESTRICT xb = xq + b * B;
    PrefetchAhead<sizeof(Block)>(&w[b]);
    auto i0 = hn::Zero(d32);
    [[maybe_unused]] __m256i mins;
    if constexpr (C::kScaledCodes) {
      C::ScaledCodes(du8, w[b], [&](size_t v, hn::Vec<decltype(du8)> codes) HWY_ATTR {
        i0 = DotQuads(d32, codes, hn::LoadU(d8, xb + v * L8), i0);
      });
      if constexpr (C::kScaledBias == 0) mins = C::MinProducts(w[b], acts.usum + b * NU);
    } else if constexpr (C::kWideUnitLanes) {
      static_assert(NU <= 8, "the units' scales widened to the eight int32 lanes of 256 bits");
      const __m128i bytes = C::UnitScaleBytes(w[b]);
      const __m512i scales = _mm512_castsi256_si512(_mm256_cvtepi8_epi32(bytes));
      constexpr const VectorUnits<C, L8>& kUnits = kVectorUnits<C, L8>;
      auto i = hn::Zero(d32);
      for (size_t v = 0; v < B / L8; ++v) {
        i = CodesDot<C, C::kFlipped>(d8, C::CodeVector(du8, w[b], v), xb + v * L8, i);
        if (kUnits.same_as_next[v]) continue;
        const __m512i lanes = _mm512_permutexvar_epi32(_mm512_load_si512(kUnitLanes<C, uint32_t>.index[v]), scales);
        i0.raw = _mm512_add_epi32(i0.raw, _mm512_mullo_epi32(i.raw, lanes));
        i = hn::Zero(d32);
      }
      mins = C::MinProducts(bytes, acts.usum + b * NU);
    } else {
      static_assert(4 * C::kCodeMax * 127 <= 32767 && NU <= 16,
                    "four products per lane within int16 (vpdpwssd takes the low word); sixteen unit scales");
      const __m128i bytes = C::UnitScaleBytes(w[b]);
      // Each lane's unit scale in its low word: unsigned ones by a byte permute of the
      // scale bytes, signed ones by a word permute of them widened once per block (a
      // byte permute and a shift per vector took 7% longer in L2, Zen 5).
      const __m512i scales = C::kSignedUnitScales ? _mm512_castsi256_si512(_mm256_cvtepi8_epi16(bytes)) : _mm512_castsi128_si512(bytes);
      for (size_t v = 0; v < B / L8; ++v) {
        const auto i = CodesDot<C, C::kFlipped>(d8, C::CodeVector(du8, w[b], v), xb + v * L8);
        const __m512i words = C::kSignedUnitScales
            ? _mm512_maskz_permutexvar_epi16(0x55555555u, _mm512_load_si512(kUnitLanes<C, uint16_t>.index[v]), scales)
            : _mm512_maskz_permutexvar_epi8(0x1111111111111111ull, _mm512_load_si512(kUnitByteIndex<C, 64, 4>.index[v]), scales);
        i0.raw = DotWords(i0.raw, i.raw, words);
      }
      mins = C::MinProducts(bytes, acts.usum + b * NU);
    }
    f = hn::MulAdd(hn::ConvertTo(df, i0), hn::Set(df, scale[k]), f);
    if constexpr (C::kScaledBias == 0) m = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_set1_ps(minor_scale[k]), m);
  };
  for (size_t b0 = 0; b0 < cb; b0 += 16) {
    const size_t n = cb - b0 < 16 ? cb - b0 : 16;  // a partial run: scales 0 past it
    auto minor = hn::Zero(df);
    const auto major = hn::Mul(C::RunSuperScales(df, w + b0, n, minor), hn::Load(df, acts.step + b0));
    hn::Store(major, df, scale);
    if constexpr (C::kScaledBias != 0) {
      o = hn::MulAdd(major, hn::Load(df, acts.bias + b0), o);
    } else {
      hn::Store(hn::Neg(hn::Mul(minor, hn::Load(df, acts.step + b0))), df, minor_scale);
    }
    for (size_t k = 0; k < n; ++k) block_dot(b0 + k, k);
  }
  const __m128 m4 = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  return SumLanes(df, hn::Add(f, o)) + SumLanes(hn::Full128<float>(), hn::Vec<hn::Full128<float>>{m4});
}
#endif

// What a pass of MatVecInt keeps of one activation row's quantization for the
// row kernels: block steps and unit sums where the matvec takes block steps.
template <class F>
struct PassActs {
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2
  BlockActivations<F, kBlockStep<Codec<F>> ? kIntChunk<F> / F::block_size : 1> blocks;
#endif
};

// y[r] += weight rows [r0, r1) of one pass (cb blocks from block column c0) times
// one activation row's pass, through the row kernel of the codec and target (an
// if-constexpr chain, so that the others are not compiled for it). Not inlined:
// one copy serves the matvec and the passes of several activation rows (the row
// kernel inlined into both took the unit of every format 15% longer to compile and
// 26% more code; called once per row, the matvec lost 2% to 3%).
template <class F>
HWY_NOINLINE void PassRows(const typename F::block* HWY_RESTRICT w, size_t nb, size_t c0, size_t cb, size_t r0,
                           size_t r1, const int8_t* HWY_RESTRICT xq, const float* HWY_RESTRICT xs,
                           const float* HWY_RESTRICT xsum, const PassActs<F>& acts, float* HWY_RESTRICT y) {
  using C [[maybe_unused]] = Codec<F>;  // only the x86 targets ask it more than MatVecRow does
  (void)xs, (void)xsum, (void)acts;
  for (size_t r = r0; r < r1; ++r) {
    const typename F::block* HWY_RESTRICT wr = w + r * nb + c0;
#if HWY_TARGET == HWY_AVX3_DL
    if constexpr (kBlockStep<C>) y[r] += MatVecRowScaled<F>(wr, cb, xq, acts.blocks); else
#elif HWY_TARGET == HWY_AVX2
    if constexpr (kBlockStep<C>) y[r] += MatVecRowUnits<F>(wr, cb, xq, acts.blocks); else
#endif
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    if constexpr (C::kRuns) y[r] += MatVecRowRuns<F>(wr, cb, xq, xs, xsum); else
#endif
    y[r] += MatVecRow<F>(wr, cb, xq, xs, xsum);
  }
}

// y[i * rows + r] = sum_c W[r][c] * x[i * cols + c] for rows [r0, r1) and the n
// (1 .. kActs) activation rows, for formats with an integer codec: x quantized
// once per pass of kIntChunk columns, then the rows one after another.
template <class F, size_t kActs>
void MatVecInt(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x,
               size_t n, float* HWY_RESTRICT y, size_t r0, size_t r1) {
  using C = Codec<F>;
  constexpr size_t B = F::block_size, U = C::kUnit, K = kIntChunk<F>;
  if constexpr (kActs == 1) n = 1;
  HWY_ALIGN int8_t xq[kActs][K];
  float xs[kActs][K / U], xsum[kActs][K / U];
  PassActs<F> acts[kActs];
  const size_t nb = cols / B;
  for (size_t i = 0; i < n; ++i)
    for (size_t r = r0; r < r1; ++r) y[i * rows + r] = 0.f;
  for (size_t c0 = 0; c0 < nb; c0 += K / B) {
    const size_t cb = nb - c0 < K / B ? nb - c0 : K / B, len = cb * B;
    for (size_t i = 0; i < n; ++i) {
      const float* HWY_RESTRICT xi = x + i * cols + c0 * B;
#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_AVX2
      if constexpr (kBlockStep<C>) {
        int32_t xsumi[K / U];
        QuantizeX<U, true, false, B>(xi, len, xq[i], xs[i], xsumi, nullptr);
        acts[i].blocks.Set(xs[i], xsumi, cb);
      } else
#endif
      {
        QuantizeX<U, false, true>(xi, len, xq[i], xs[i], nullptr, xsum[i]);
        if constexpr (kBiasSums<C>)
          for (size_t u = 0; u < len / U; ++u) xsum[i][u] *= -float(DotOperand<C>::kBias);
      }
      if constexpr (C::kVectorCodes) ToCodeOrder<F, hn::MaxLanes(hn::CappedTag<int8_t, kCodeBytes<F>>())>(xq[i], cb);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
      if constexpr (C::kRuns) PadRuns<F>(xq[i], xs[i], xsum[i], cb);
#endif
    }
    if (n == 1) {
      PassRows<F>(w, nb, c0, cb, r0, r1, xq[0], xs[0], xsum[0], acts[0], y);
      continue;
    }
    // Each weight row meets every activation row in turn: from memory once, then
    // from the L1 cache. The next row's blocks load meanwhile (without: three
    // activation rows of q8_0 from memory 0.76x of three matvecs; groups of rows
    // of 16 KiB instead of one row: 0.83x to 0.89x).
    const size_t row_bytes = cb * sizeof(typename F::block);
    for (size_t r = r0; r < r1; ++r) {
      if (r + 1 < r1) {
        const uint8_t* next = reinterpret_cast<const uint8_t*>(w + (r + 1) * nb + c0);
        for (size_t o = 0; o < row_bytes; o += 64) hwy::Prefetch(next + o);
      }
      for (size_t i = 0; i < n; ++i) PassRows<F>(w, nb, c0, cb, r, r + 1, xq[i], xs[i], xsum[i], acts[i], y + i * rows);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

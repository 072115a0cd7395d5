// The integer matrix product (n activation rows) and the per-target entry points
// MatMul<F> / MatVec<F> that the dispatch tables hold.
//
// Weight rows sit in vector lanes: a tile of R rows (one or two vectors of int32
// lanes) by K columns is unpacked from the GGUF blocks into the L1 cache, four
// codes of a row per int32 lane ([column / 4][row] words). Each activation's four
// int8 codes of the same columns are broadcast to every lane, and one dot
// instruction (vpdpbusd, maddubs + madd, sdot) adds the four products of each row
// in its own lane: four activations times R rows per loaded weight vector, and no
// horizontal sums. A codec unit's int32 sums are scaled once per unit by the
// weight scales in lanes, and those of an activation group once by its step. The
// tile is unpacked once per kActs activation rows, which share the activation codes
// quantized for it.

#if defined(QNT_KERNELS_MATMUL_INT8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_MATMUL_INT8_INL_H_
#undef QNT_KERNELS_MATMUL_INT8_INL_H_
#else
#define QNT_KERNELS_MATMUL_INT8_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "codec-inl.h"
#include "codecs-inl.h"
#include "matmul-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

#if HWY_TARGET != HWY_SCALAR  // one lane cannot hold a row's four codes

// Vectors of rows per tile: two where the ISA has 32 vector registers (4
// activations x 2 row vectors of int32 and of float accumulators fit), else one.
inline constexpr size_t kRowVectors = HWY_ARCH_X86 && HWY_TARGET > HWY_AVX3 ? 1 : 2;
// Rows per tile at most (16 int32 lanes per vector at most: CappedTag).
inline constexpr size_t kMaxTileRows = 32;
// Columns per tile: at least 256, a multiple of the block and of the activation group.
template <class F>
inline constexpr size_t kTileCols = (256 + kBlocksAndGroups<F> - 1) / kBlocksAndGroups<F> * kBlocksAndGroups<F>;

// All the tile code knows at compile time of a format once its blocks are unpacked:
// the unit of one scale (U), the type the dot instruction takes the weight codes as,
// and the columns per tile (K); whether units have offsets is a flag. Formats that
// agree share one instantiation of the tile code: two or three per target serve
// every GGUF format, which keeps the compile time of a unit with all formats down.
template <size_t U, class Operand, size_t K, size_t Steps>
struct TileShape {
  static constexpr size_t kUnit = U, kCols = K, kUnits = K / U;
  // Steps whose int16 pair sums add up before they widen (kPairSteps).
  static constexpr size_t kSteps = Steps;
  using operand = Operand;
  // Activation rows quantized per tile unpacking: 128 of 256 columns (32 KiB of
  // codes on the stack), fewer for wider tiles (groups beyond 256), a multiple of 4.
  static constexpr size_t kActs = 128 * 256 / K < 4 ? 4 : 128 * 256 / K / 4 * 4;
};
template <class F>
using TileShapeOf = TileShape<Codec<F>::kUnit, typename DotOperand<Codec<F>>::type, kTileCols<F>, kPairSteps<Codec<F>>>;

// How many 32-bit lanes of a row TransposeRows moves at once: 4 (128 bits), or 8 where
// x86 has AVX-512 (256 bits: half the loads and shuffles; on Zen 5 the matmul of four
// activations, one tile unpacked per four, ran 6% (q4_K, q6_K), 13% (q4_0) and 24%
// (q8_0) faster, and with 512 bits 15% slower than with 128: the blocks' extracts cost
// more than they save; AVX2 stays at 128: Zen 1 splits each 256-bit shuffle in two).
template <size_t kCount>
inline constexpr size_t kTransposeLanes = HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3 && kCount % 8 == 0 ? 8 : 4;

// Lanes q .. q + Lanes(d) - 1 of four rows (32-bit lanes: words of four codes, or
// float scales) transposed per 128 bits: block k of the m-th result holds lane
// q + 4 k + m of the four rows, stored at out + (q + 4 k + m) R; words xor kFlip.
template <uint32_t kFlip, class D, class T = hn::TFromD<D>>
HWY_INLINE void TransposeWords(D d, const T* HWY_RESTRICT const (&rows)[4], size_t q, T* HWY_RESTRICT out, size_t R) {
  static_assert(sizeof(T) == 4 && (kFlip == 0 || std::is_integral_v<T>));
  const hn::Repartition<uint64_t, D> d64;
  const auto load = [&](size_t i) { return hn::LoadU(d, rows[i] + q); };
  const auto v0 = load(0), v1 = load(1), v2 = load(2), v3 = load(3);
  const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, v0, v1));  // a0 b0 a1 b1
  const auto t1 = hn::BitCast(d64, hn::InterleaveUpper(d, v0, v1));  // a2 b2 a3 b3
  const auto t2 = hn::BitCast(d64, hn::InterleaveLower(d, v2, v3));  // c0 d0 c1 d1
  const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, v2, v3));  // c2 d2 c3 d3
  const auto store = [&](auto pair, size_t m) {
    auto o = hn::BitCast(d, pair);
    if constexpr (kFlip != 0) o = hn::Xor(o, hn::Set(d, T(kFlip)));
    T* HWY_RESTRICT at = out + (q + m) * R;
    if constexpr (hn::MaxLanes(d) > 4) {  // each 128-bit half where its lanes go
      static_assert(hn::MaxLanes(d) == 8, "two 128-bit blocks");
      const hn::Half<D> dh;
      hn::StoreU(hn::LowerHalf(dh, o), dh, at);
      hn::StoreU(hn::UpperHalf(dh, o), dh, at + 4 * R);
    } else {
      hn::StoreU(o, d, at);
    }
  };
  store(hn::InterleaveLower(d64, t0, t2), 0), store(hn::InterleaveUpper(d64, t0, t2), 1);
  store(hn::InterleaveLower(d64, t1, t3), 2), store(hn::InterleaveUpper(d64, t1, t3), 3);
}

// Lanes 0 .. kCount - 1 of four rows to out[t R + i] (row i's lane t), words xor
// kFlip: by TransposeWords where kCount is a multiple of the vector's lanes, else
// one by one (q4_0's single scale; vectors narrower than 128 bits at run time).
template <size_t kCount, uint32_t kFlip, class T>
HWY_INLINE void TransposeRows(const T* HWY_RESTRICT const (&rows)[4], T* HWY_RESTRICT out, size_t R) {
  constexpr size_t W = kTransposeLanes<kCount>;
  const hn::CappedTag<T, W> d;
  if (kCount % W == 0 && hn::Lanes(d) == W) {
    for (size_t q = 0; q < kCount; q += W) TransposeWords<kFlip>(d, rows, q, out, R);
    return;
  }
  for (size_t q = 0; q < kCount; ++q)
    for (size_t i = 0; i < 4; ++i) {
      T lane;
      std::memcpy(&lane, rows[i] + q, sizeof(T));  // codes: bytes read as words
      if constexpr (kFlip != 0) lane ^= kFlip;
      out[q * R + i] = lane;
    }
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// Words q .. q + 15 of eight rows to out[(q + m) R + i] (row i's word q + m), xor
// kFlip: one 32-byte store per word of the eight rows, where TransposeWords stores
// 16 bytes of four. For blocks of 256 (Zen 5, a q4_K tile's unpacking alone 26 ->
// 33 Gw/s, q6_K 24 -> 27; the matmul of one thread, q4_K n = 4 1.03x, n = 8 1.015x,
// q6_K n = 4 1.06x, n = 32 1.02x); blocks of 32 (a 256-bit form) gained nothing.
template <uint32_t kFlip, class T>
HWY_INLINE void TransposeEight(const T* HWY_RESTRICT const (&rows)[8], size_t q, T* HWY_RESTRICT out, size_t R) {
  static_assert(sizeof(T) == 4);
  // Per 128-bit block k: u[h][m] holds word q + 4 k + m of rows 4 h .. 4 h + 3.
  __m512i u[2][4];
  for (size_t h = 0; h < 2; ++h) {
    const auto load = [&](size_t i) { return _mm512_loadu_si512(rows[4 * h + i] + q); };
    const __m512i r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3);
    const __m512i t0 = _mm512_unpacklo_epi32(r0, r1), t1 = _mm512_unpackhi_epi32(r0, r1);
    const __m512i t2 = _mm512_unpacklo_epi32(r2, r3), t3 = _mm512_unpackhi_epi32(r2, r3);
    u[h][0] = _mm512_unpacklo_epi64(t0, t2), u[h][1] = _mm512_unpackhi_epi64(t0, t2);
    u[h][2] = _mm512_unpacklo_epi64(t1, t3), u[h][3] = _mm512_unpackhi_epi64(t1, t3);
  }
  const auto store = [&](size_t word, __m256i v) {
    if constexpr (kFlip != 0) v = _mm256_xor_si256(v, _mm256_set1_epi32(int32_t(kFlip)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + (q + word) * R), v);
  };
  // Blocks k of both halves side by side: word q + 4 k + m of the eight rows.
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  for (size_t m = 0; m < 4; ++m) {
    const __m512i a = _mm512_permutex2var_epi64(u[0][m], first, u[1][m]);
    const __m512i b = _mm512_permutex2var_epi64(u[0][m], second, u[1][m]);
    store(m, _mm512_castsi512_si256(a)), store(4 + m, _mm512_extracti64x4_epi64(a, 1));
    store(8 + m, _mm512_castsi512_si256(b)), store(12 + m, _mm512_extracti64x4_epi64(b, 1));
  }
}
#endif

// Unpacks rows [r, r + R) (rows past r1 repeat row r1 - 1) of the cb blocks from
// block column c0 of `blocks` (F::block, nb per row) into the tile: codes[(k / 4) *
// R + j] holds codes k..k+3 of row j; scale and offset [unit * R + j]. Several rows
// at a time, so that one word of each is one store: the codes of eight rows per
// 32-byte store where TransposeEight takes them (blocks of 256 on AVX-512, where R
// is 32), else of four per 16-byte store, 4 x 4 transposes of words (TransposeRows);
// the units' scales four rows at a time, transposed the same way where a block has
// a multiple of four (q4_K: 1.21x at n = 4 against copying them one by one, Zen 5).
// The one format-specific step of the tile product, reached through a pointer once
// per tile.
template <class F>
void UnpackTile(const void* HWY_RESTRICT blocks, size_t nb, size_t c0, size_t cb, size_t r, size_t r1, size_t R,
                uint32_t* HWY_RESTRICT codes, float* HWY_RESTRICT scale, float* HWY_RESTRICT offset) {
  using C = Codec<F>;
  constexpr size_t B = F::block_size, NU = B / C::kUnit, Q = B / 4;
  // Rows per step: eight where TransposeEight takes the codes (R is 32 there).
  constexpr size_t G = HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3 && Q % 16 == 0 ? 8 : 4;
  HWY_DASSERT(R % G == 0);
  const typename F::block* HWY_RESTRICT w = static_cast<const typename F::block*>(blocks);
  CodesBuffer<C> buf[G];
  for (size_t j = 0; j < R; j += G) {
    const typename F::block* row[G];
    for (size_t i = 0; i < G; ++i) row[i] = w + (r + j + i < r1 ? r + j + i : r1 - 1) * nb + c0;
    for (size_t b = 0; b < cb; ++b) {
      for (size_t i = 0; i < G; ++i) C::Codes(row[i][b], buf[i]);
      const uint32_t* words[G];
      for (size_t i = 0; i < G; ++i) words[i] = reinterpret_cast<const uint32_t*>(buf[i].codes);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
      if constexpr (G == 8) {
        for (size_t q = 0; q < Q; q += 16) TransposeEight<DotOperand<C>::kFlip>(words, q, codes + b * Q * R + j, R);
      } else
#endif
      {
        TransposeRows<Q, DotOperand<C>::kFlip>(words, codes + b * Q * R + j, R);
      }
      for (size_t h = 0; h < G; h += 4) {
        const float* scales[4] = {buf[h].scale, buf[h + 1].scale, buf[h + 2].scale, buf[h + 3].scale};
        TransposeRows<NU, 0>(scales, scale + b * NU * R + j + h, R);
        if constexpr (C::kOffset) {
          const float* offsets[4] = {buf[h].offset, buf[h + 1].offset, buf[h + 2].offset, buf[h + 3].offset};
          TransposeRows<NU, 0>(offsets, offset + b * NU * R + j + h, R);
        }
      }
    }
  }
}
using UnpackTileFn = void(const void*, size_t, size_t, size_t, size_t, size_t, size_t, uint32_t*, float*, float*);

// The weight side of the tile product: how to read a format's blocks.
struct TileWeights {
  const uint8_t* blocks;
  size_t block_bytes, block_size;
  int bias;  // value = scale * (code - bias) (+ offset), as DotOperand says
  bool offset;  // whether units have offsets
  UnpackTileFn* unpack;
};

// The activation side of a tile: kActs rows of K columns, quantized.
template <class S>
struct TileActs {
  HWY_ALIGN int8_t q[S::kActs * S::kCols];
  // Per unit: the step; -bias times the sum of the codes, where the unit's int32
  // sums start; the sum of the codes times the step, against the offsets. Formed
  // once per quantization, so that the tile loop only broadcasts them.
  float step[S::kActs * S::kUnits];
  int32_t start[S::kActs * S::kUnits];
  float sum[S::kActs * S::kUnits];
};

// y[a][r .. r + nr) += the tile (R rows, len columns) times activations a .. a + 3
// (those from `count` on repeat the last and are not written). `offset`: null
// for formats without offsets.
template <class S>
HWY_INLINE void TileTimesActs(const uint32_t* HWY_RESTRICT codes, const float* HWY_RESTRICT scale,
                              const float* HWY_RESTRICT offset, const TileActs<S>& xa, size_t a,
                              size_t count, size_t len, float* HWY_RESTRICT y, size_t rows, size_t nr) {
  constexpr size_t U = S::kUnit, K = S::kCols, KU = S::kUnits, RV = kRowVectors;
  const hn::CappedTag<int32_t, kMaxTileRows / RV> d32;
  const hn::Repartition<typename S::operand, decltype(d32)> dw;
  const hn::Repartition<int8_t, decltype(d32)> dx;
  const hn::Rebind<float, decltype(d32)> df;
  const size_t N = HWY_HAVE_SCALABLE ? hn::Lanes(d32) : hn::MaxLanes(d32), R = RV * N;
  size_t act[4];
  for (size_t i = 0; i < 4; ++i) act[i] = a + i < count ? a + i : count - 1;
  const int8_t* HWY_RESTRICT x0 = xa.q + act[0] * K;
  const int8_t* HWY_RESTRICT x1 = xa.q + act[1] * K;
  const int8_t* HWY_RESTRICT x2 = xa.q + act[2] * K;
  const int8_t* HWY_RESTRICT x3 = xa.q + act[3] * K;
  const int32_t* HWY_RESTRICT w = reinterpret_cast<const int32_t*>(codes);
  // Accumulators, named (scalable vectors cannot live in arrays): f<activation><row vector>.
  auto f00 = hn::Zero(df), f01 = hn::Zero(df), f10 = hn::Zero(df), f11 = hn::Zero(df);
  auto f20 = hn::Zero(df), f21 = hn::Zero(df), f30 = hn::Zero(df), f31 = hn::Zero(df);
  // Units of one activation group share its step: their scaled sums t add up first
  // and meet the step once (t<activation><row vector>).
  constexpr size_t G = U < kXGroup ? kXGroup / U : 1;
  auto t00 = f00, t01 = f00, t10 = f00, t11 = f00, t20 = f00, t21 = f00, t30 = f00, t31 = f00;
  const auto unit = [&](size_t u, auto first, auto last) HWY_ATTR QNT_LAMBDA_INLINE {
    // The bias term of each activation, -bias * (sum of its codes), starts the sums.
    const auto start = [&](size_t i) { return hn::Set(d32, xa.start[act[i] * KU + u]); };
    auto i00 = start(0), i10 = start(1), i20 = start(2), i30 = start(3);
    auto i01 = i00, i11 = i10, i21 = i20, i31 = i30;
    // The unit's U / 4 steps in runs of kRun: where dot products take two multiplies
    // and codes are small (QNT_PAIR_SUMS, S::kSteps > 1) a run's int16 pair sums p
    // widen into the int32 sums once; elsewhere p are the int32 sums themselves.
    constexpr bool kPairs = QNT_PAIR_SUMS && S::kSteps > 1;
    constexpr size_t kRun = kPairs ? S::kSteps : U / 4;
    const auto add_step = [&](auto wv, auto xb, auto acc) HWY_ATTR {
#if QNT_PAIR_SUMS
      if constexpr (kPairs) return InOrder(PairQuads(wv, xb, acc));
      else
#endif
        return InOrder(DotQuads(d32, wv, xb, acc));
    };
    // A run's sums: where they start, and how they join the int32 sums.
    const auto begin = [&](auto i) HWY_ATTR {
      if constexpr (kPairs) return hn::Zero(hn::Repartition<int16_t, decltype(d32)>());
      else return i;
    };
    const auto end = [&](auto p, auto i) HWY_ATTR {
#if QNT_PAIR_SUMS
      if constexpr (kPairs) return WidenQuads(p, i);
      else
#endif
      {
        (void)i;
        return p;
      }
    };
    for (size_t k0 = 0; k0 < U / 4; k0 += kRun) {
      auto p00 = begin(i00), p10 = begin(i10), p20 = begin(i20), p30 = begin(i30);
      auto p01 = begin(i01), p11 = begin(i11), p21 = begin(i21), p31 = begin(i31);
      HWY_UNROLL(8)
      for (size_t k = k0; k < k0 + kRun; ++k) {  // a constant count: unrolled, sums in registers
        const size_t q = u * (U / 4) + k;
        const auto w0 = hn::BitCast(dw, hn::Load(d32, w + q * R));
        const auto w1 = RV == 2 ? hn::BitCast(dw, hn::Load(d32, w + q * R + N)) : w0;
        const auto dot = [&](const int8_t* HWY_RESTRICT xi, auto& lo, auto& hi) {
          int32_t word;
          std::memcpy(&word, xi + 4 * q, 4);
          const auto xb = hn::BitCast(dx, hn::Set(d32, word));
          lo = add_step(w0, xb, lo);
          if constexpr (RV == 2) hi = add_step(w1, xb, hi);
        };
        dot(x0, p00, p01), dot(x1, p10, p11), dot(x2, p20, p21), dot(x3, p30, p31);
      }
      i00 = end(p00, i00), i10 = end(p10, i10), i20 = end(p20, i20), i30 = end(p30, i30);
      if constexpr (RV == 2) i01 = end(p01, i01), i11 = end(p11, i11), i21 = end(p21, i21), i31 = end(p31, i31);
    }
    const auto s0 = hn::Load(df, scale + u * R), s1 = RV == 2 ? hn::Load(df, scale + u * R + N) : s0;
    const auto add = [&](size_t i, auto ilo, auto ihi, auto& tlo, auto& thi, auto& lo, auto& hi) {
      if constexpr (decltype(first)::value) {
        tlo = hn::Mul(hn::ConvertTo(df, ilo), s0);
        if constexpr (RV == 2) thi = hn::Mul(hn::ConvertTo(df, ihi), s1);
      } else {
        tlo = hn::MulAdd(hn::ConvertTo(df, ilo), s0, tlo);
        if constexpr (RV == 2) thi = hn::MulAdd(hn::ConvertTo(df, ihi), s1, thi);
      }
      if constexpr (decltype(last)::value) {
        const auto step = hn::Set(df, xa.step[act[i] * KU + u]);
        lo = hn::MulAdd(tlo, step, lo);
        if constexpr (RV == 2) hi = hn::MulAdd(thi, step, hi);
      }
      if (offset) {  // the same way for every unit of a call: predicted
        const auto sum = hn::Set(df, xa.sum[act[i] * KU + u]);
        lo = hn::MulAdd(hn::Load(df, offset + u * R), sum, lo);
        if constexpr (RV == 2) hi = hn::MulAdd(hn::Load(df, offset + u * R + N), sum, hi);
      }
    };
    add(0, i00, i01, t00, t01, f00, f01), add(1, i10, i11, t10, t11, f10, f11);
    add(2, i20, i21, t20, t21, f20, f21), add(3, i30, i31, t30, t31, f30, f31);
  };
  using yes = std::true_type;
  using no = std::false_type;
  size_t u = 0;
  for (; u + G <= len / U; u += G) {
    if constexpr (G == 1) {
      unit(u, yes(), yes());
    } else {
      unit(u, yes(), no());
      for (size_t g = 1; g + 1 < G; ++g) unit(u + g, no(), no());
      unit(u + G - 1, no(), yes());
    }
  }
  if constexpr (G > 1)
    for (; u < len / U; ++u) unit(u, yes(), yes());  // a partial group: each unit alone
  const auto store = [&](size_t i, auto lo, auto hi) {
    if (a + i >= count) return;
    float* out = y + act[i] * rows;
    if (nr == R) {
      hn::StoreU(hn::Add(hn::LoadU(df, out), lo), df, out);
      if constexpr (RV == 2) hn::StoreU(hn::Add(hn::LoadU(df, out + N), hi), df, out + N);
      return;
    }
    HWY_ALIGN float part[kMaxTileRows];
    hn::Store(lo, df, part);
    if constexpr (RV == 2) hn::Store(hi, df, part + N);
    for (size_t j = 0; j < nr; ++j) out[j] += part[j];
  };
  store(0, f00, f01), store(1, f10, f11), store(2, f20, f21), store(3, f30, f31);
}

// y[i * rows + r] = sum_c W[r][c] * x[i * cols + c] for rows [r0, r1), n >= 1, for
// every format of tile shape S. Not inlined: one copy per shape, not per format.
template <class S>
HWY_NOINLINE void MatMulTiles(const TileWeights& wt, size_t rows, size_t cols, const float* HWY_RESTRICT x, size_t n,
                              float* HWY_RESTRICT y, size_t r0, size_t r1) {
  constexpr size_t U = S::kUnit, K = S::kCols, KU = S::kUnits, kActs = S::kActs;
  const hn::CappedTag<int32_t, kMaxTileRows / kRowVectors> d32;
  const size_t R = kRowVectors * hn::Lanes(d32);
  const size_t B = wt.block_size, KB = K / B, nb = cols / B, row_bytes = nb * wt.block_bytes;
  HWY_ALIGN uint32_t codes[K / 4 * kMaxTileRows];
  HWY_ALIGN float scale[KU * kMaxTileRows];
  HWY_ALIGN float offset[KU * kMaxTileRows];
  TileActs<S> xa;
  // Activation blocks outermost: their outputs (count x rows floats) stay in the
  // L2 cache while the column chunks add to them; the weights are read once per
  // block of activations instead, which the prefetches below hide.
  for (size_t a0 = 0; a0 < n; a0 += kActs) {
    const size_t count = n - a0 < kActs ? n - a0 : kActs;
    for (size_t i = a0; i < a0 + count; ++i)
      for (size_t r = r0; r < r1; ++r) y[i * rows + r] = 0.f;
    for (size_t c0 = 0; c0 < nb; c0 += KB) {
      const size_t cb = nb - c0 < KB ? nb - c0 : KB, len = cb * B;
      // All the activation rows in one call: its batches of groups span rows.
      QuantizeX<U, true, true>(x + a0 * cols + c0 * B, len, xa.q, xa.step, xa.start, xa.sum, count, cols, K, KU);
      for (size_t i = 0; i < count; ++i)
        for (size_t u = 0; u < len / U; ++u) xa.start[i * KU + u] *= -wt.bias;
      for (size_t r = r0; r < r1; r += R) {
        wt.unpack(wt.blocks, nb, c0, cb, r, r1, R, codes, scale, offset);
        // The next tile's blocks load while this one computes: its R rows are R
        // streams, more than the hardware prefetcher follows. A few rows per group
        // of activations: all at once would fill the queue of outstanding loads.
        const bool last = r + R >= r1;
        const size_t next_r = last ? r0 : r + R;
        const size_t next_c = !last ? c0 : c0 + cb < nb ? c0 + cb : a0 + kActs < n ? 0 : nb;
        const size_t next_rows = next_c < nb ? (r1 - next_r < R ? r1 - next_r : R) : 0;
        const size_t next_bytes = next_c < nb ? (nb - next_c < KB ? nb - next_c : KB) * wt.block_bytes : 0;
        const size_t per_group = (next_rows + (count + 3) / 4 - 1) / ((count + 3) / 4);
        size_t fetched = 0;
        const size_t nr = r1 - r < R ? r1 - r : R;
        float* yt = y + a0 * rows + r;
        for (size_t a = 0; a < count; a += 4) {
          // The next four activations' outputs: rows of y far apart, which the
          // hardware prefetcher cannot guess, and each read once per tile.
          for (size_t i = a + 4; i < a + 8 && i < count; ++i)
            for (size_t j = 0; j < nr; j += 16) hwy::Prefetch(yt + i * rows + j);
          for (const size_t end = fetched + per_group; fetched < end && fetched < next_rows; ++fetched) {
            const uint8_t* p = wt.blocks + (next_r + fetched) * row_bytes + next_c * wt.block_bytes;
            for (size_t o = 0; o < next_bytes; o += 64) hwy::Prefetch(p + o);
          }
          TileTimesActs<S>(codes, scale, wt.offset ? offset : nullptr, xa, a, count, len, yt, rows, nr);
        }
      }
    }
  }
}

// MatMulTiles for the integer format F.
template <class F>
HWY_INLINE void MatMulInt8(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols,
                           const float* HWY_RESTRICT x, size_t n, float* HWY_RESTRICT y, size_t r0, size_t r1) {
  const TileWeights wt{reinterpret_cast<const uint8_t*>(w), sizeof(typename F::block), F::block_size,
                       DotOperand<Codec<F>>::kBias, Codec<F>::kOffset, &UnpackTile<F>};
  MatMulTiles<TileShapeOf<F>>(wt, rows, cols, x, n, y, r0, r1);
}

#endif  // HWY_TARGET != HWY_SCALAR

// The per-target entry points of the dispatch tables (and of engines that compile
// per target): y[i * rows + r] for rows [r0, r1). Integer formats multiply int8
// activation codes: up to three rows through MatVecInt, kVecActs at a time, which
// reads each weight once per pass and meets it with every one of them, more through
// the tile (on HWY_SCALAR, whose lane cannot hold a row's four codes, every n takes
// MatVecInt). nf4 decodes to floats.
template <class F>
void MatMul(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x, size_t n,
            float* HWY_RESTRICT y, size_t r0, size_t r1) {
  if constexpr (!Codec<F>::kInteger) {
    MatMulFloat<F>(w, rows, cols, x, n, y, r0, r1);
  } else {
#if HWY_TARGET != HWY_SCALAR
    if (n >= 4) return MatMulInt8<F>(w, rows, cols, x, n, y, r0, r1);
#endif
    for (size_t i = 0; i < n; i += kVecActs)
      MatVecInt<F, kVecActs>(w, rows, cols, x + i * cols, n - i < kVecActs ? n - i : kVecActs, y + i * rows, r0, r1);
  }
}

// MatMul for n == 1 (its own table entry, so that a matvec call skips the checks).
template <class F>
void MatVec(const typename F::block* HWY_RESTRICT w, size_t rows, size_t cols, const float* HWY_RESTRICT x, size_t n,
            float* HWY_RESTRICT y, size_t r0, size_t r1) {
  (void)rows, (void)n;  // the table's signature: the float matvec takes neither
  if constexpr (Codec<F>::kInteger) MatVecInt<F, 1>(w, rows, cols, x, 1, y, r0, r1);
  else MatVecFloat<F>(w, cols, x, y, r0, r1);
}

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard

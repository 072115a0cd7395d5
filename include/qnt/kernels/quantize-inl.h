// Per-target fast quantizers: the fast scale search of core/fit.hpp with its
// element-wise passes in SIMD lanes. Every lane does the scalar reference's
// operations in the same order (no FMA, the same rounding and clamping), and sums
// fold in pairwise_sum's fixed order, so the bytes equal the scalar reference's on
// every target (the kernel tests compare them). The decisions between candidates
// are the reference's comparisons, written with selects where they run in lanes.

#if defined(QNT_KERNELS_QUANTIZE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef QNT_KERNELS_QUANTIZE_INL_H_
#undef QNT_KERNELS_QUANTIZE_INL_H_
#else
#define QNT_KERNELS_QUANTIZE_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "../core/api.hpp"
#include "../core/fit.hpp"
#include "../formats/kquant_fit.hpp"
#include "codecs-inl.h"

HWY_BEFORE_NAMESPACE();
namespace qnt {
namespace HWY_NAMESPACE {

// rne (core/scalar.hpp), ties to even, of values whose magnitude is below 2^22 (a
// clamped code or scale): Round, except on EMU128, whose Round adds 0.5 and
// truncates (0.5 - 2^-25 becomes 1), where the reference's 1.5 * 2^23 addition
// does it. Round keeps the sign of a zero, which no code or sum depends on.
template <class D>
HWY_INLINE hn::Vec<D> RoundEven(D d, hn::Vec<D> v) {
#if HWY_TARGET == HWY_EMU128
  const auto magic = hn::Set(d, 12582912.f);
  return hn::Sub(hn::Add(v, magic), magic);
#else
  (void)d;
  return hn::Round(v);
#endif
}

// fit::signed_max's choice once the largest magnitude is known: the first of the n
// values (whole vectors of d) whose magnitude equals `top` (in every lane), or 0
// where none does.
template <class D>
HWY_INLINE float FirstOfMagnitude(D d, const float* HWY_RESTRICT x, size_t n, hn::Vec<D> top) {
  for (size_t i = 0; i < n; i += hn::Lanes(d)) {
    const intptr_t k = hn::FindFirstTrue(d, hn::Eq(hn::Abs(hn::LoadU(d, x + i)), top));
    if (k >= 0) return x[i + size_t(k)];
  }
  return 0.f;
}

// Fixed-size vectors halve down to one lane; scalable ones (SVE, RVV) cannot always
// form the smaller halves, and finish in scalar code there, as does SCALAR.
#if (HWY_ARCH_X86 || HWY_TARGET == HWY_NEON) && HWY_TARGET != HWY_SCALAR
#define QNT_FOLD_HALVES 1
// The operations the folds below combine lanes with: the sums, and the maxima and
// minima of lanes (exact in any order).
struct FoldAdd {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Add(a, b); }
};
struct FoldMax {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Max(a, b); }
};
struct FoldMin {
  template <class V>
  HWY_INLINE V operator()(V a, V b) const { return hn::Min(a, b); }
};
// The sum (or Op) of v's lanes folding the upper half onto the lower until one lane
// is left: pairwise_sum's order for a power-of-two count of lanes.
template <class Op = FoldAdd, class D>
HWY_INLINE float FoldHalves(D d, hn::Vec<D> v) {
  if constexpr (hn::MaxLanes(D()) == 1) {
    (void)d;
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return FoldHalves<Op>(dh, Op()(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
}
#else
#define QNT_FOLD_HALVES 0
#endif

#if QNT_FOLD_HALVES
// The number of whole vectors of CappedTag<float, n> that hold n floats, if that is
// a power of two (so pairwise_sum's order folds vectors onto each other); else 0.
template <size_t n>
constexpr size_t VectorsIn() {
  constexpr size_t N = hn::MaxLanes(hn::CappedTag<float, PowerOfTwoIn(n)>());
  constexpr size_t k = n % N == 0 ? n / N : 0;
  return k != 0 && (k & (k - 1)) == 0 ? k : 0;
}

template <size_t K, class D>
HWY_INLINE void LoadVectors(D d, const float* HWY_RESTRICT p, hn::Vec<D>* v) {
  for (size_t k = 0; k < K; ++k) v[k] = hn::LoadU(d, p + k * hn::MaxLanes(d));
}

// Float lanes holding integers 0..255 (codes), stored as bytes.
template <class D>
HWY_INLINE void StoreCodeBytes(D /* d */, hn::Vec<D> v, uint8_t* HWY_RESTRICT p) {
  const hn::Rebind<uint8_t, D> du8;
  hn::StoreU(hn::DemoteTo(du8, hn::ConvertTo(hn::RebindToSigned<D>(), v)), du8, p);
}

// The first steps of pairwise_sum (or of Op) of the K * N lanes of v[0..K) (K a
// power of two): the vectors folded onto v[0], which is returned (v is overwritten).
template <size_t K, class Op = FoldAdd, class D>
HWY_INLINE hn::Vec<D> FoldOnto1(D /* d */, hn::Vec<D>* v) {
  for (size_t h = K / 2; h >= 1; h /= 2)
    for (size_t i = 0; i < h; ++i) v[i] = Op()(v[i], v[i + h]);
  return v[0];
}

// FoldHalves of several vectors at once, where vectors have 4, 8 or 16 lanes (x86,
// NEON): G = N / 2 of them share every step (one folds a vector's upper half onto
// its lower, and half of the shuffles bring another vector's halves along), about
// four operations per sum where FoldHalves of each takes eight. The same additions
// as FoldHalves, so the same sums (or maxima, minima: Op).
template <class D>
inline constexpr bool kFoldGroups = hn::MaxLanes(D()) == 4 || hn::MaxLanes(D()) == 8 || hn::MaxLanes(D()) == 16;
template <class Op = FoldAdd, class D>
HWY_INLINE void FoldGroup(D d, const hn::Vec<D>* HWY_RESTRICT v, float* HWY_RESTRICT out) {
  constexpr size_t N = hn::MaxLanes(D());
  static_assert(kFoldGroups<D>, "4, 8 or 16 lanes");
  // [a's lower half + upper half | b's the same]
  const auto halves = [d](hn::Vec<D> a, hn::Vec<D> b) HWY_ATTR {
    return Op()(hn::ConcatLowerLower(d, b, a), hn::ConcatUpperUpper(d, b, a));
  };
  hn::Vec<D> r, s;  // each 128-bit block holds four lanes of one sum
  if constexpr (N == 16) {
    // Sums of two blocks each: block pairs of a and b added (block order a0 b1 a2 b3
    // plus a1 b0 a3 b2), so r's blocks hold v0 v2 v1 v3.
    const auto blocks = [](hn::Vec<D> a, hn::Vec<D> b) HWY_ATTR {
      return Op()(hn::OddEvenBlocks(b, a), hn::SwapAdjacentBlocks(hn::OddEvenBlocks(a, b)));
    };
    r = blocks(halves(v[0], v[1]), halves(v[2], v[3]));
    s = blocks(halves(v[4], v[5]), halves(v[6], v[7]));
  } else if constexpr (N == 8) {
    r = halves(v[0], v[1]), s = halves(v[2], v[3]);  // blocks: v0 v1, and v2 v3
  } else {
    r = v[0], s = v[1];
  }
  // Within blocks: lanes i and i + 2, then i and i + 1; r's sum in lane 0 of the
  // block, s's in lane 1.
  const auto t = Op()(hn::InterleaveLower(d, r, s), hn::InterleaveUpper(d, r, s));
  const auto u = Op()(t, hn::Shuffle1032(t));
  alignas(64) float lanes[N];
  hn::Store(u, d, lanes);
  constexpr size_t kLane16[8] = {0, 8, 4, 12, 1, 9, 5, 13}, kLane8[4] = {0, 4, 1, 5}, kLane4[2] = {0, 1};
  const size_t* lane = N == 16 ? kLane16 : N == 8 ? kLane8 : kLane4;
  for (size_t g = 0; g < N / 2; ++g) out[g] = lanes[lane[g]];
}
// FoldHalves of sixteen vectors of 16 lanes, the sums stored as one vector: the same
// additions as FoldGroup, but every step's shuffles serve two vectors to its end,
// where FoldGroup's last steps leave half the lanes idle and read its sums out one
// by one (about three operations per sum instead of five).
template <class Op = FoldAdd, class D>
HWY_INLINE void FoldSixteen(D d, const hn::Vec<D>* HWY_RESTRICT v, float* HWY_RESTRICT out) {
  static_assert(hn::MaxLanes(D()) == 16, "16 lanes");
  using V = hn::Vec<D>;
  // Lanes i and i + 8: vector a in the lower half, b in the upper.
  V h[8];
  for (size_t k = 0; k < 8; ++k) h[k] = Op()(hn::ConcatLowerLower(d, v[2 * k + 1], v[2 * k]), hn::ConcatUpperUpper(d, v[2 * k + 1], v[2 * k]));
  // Lanes i and i + 4 (128-bit blocks): g[m]'s blocks belong to vectors 4m, 4m + 2, 4m + 1, 4m + 3.
  V g[4];
  for (size_t m = 0; m < 4; ++m) {
    const V a = h[2 * m], b = h[2 * m + 1];
    g[m] = Op()(hn::OddEvenBlocks(b, a), hn::SwapAdjacentBlocks(hn::OddEvenBlocks(a, b)));
  }
  // Lanes i and i + 2, then i and i + 1 within blocks: lane 4b + m ends with the sum of
  // g[m]'s block b.
  V t[2];
  for (size_t p = 0; p < 2; ++p) t[p] = Op()(hn::InterleaveLower(d, g[2 * p], g[2 * p + 1]), hn::InterleaveUpper(d, g[2 * p], g[2 * p + 1]));
  const hn::Repartition<uint64_t, D> d64;
  const auto t0 = hn::BitCast(d64, t[0]), t1 = hn::BitCast(d64, t[1]);
  const V sums = Op()(hn::BitCast(d, hn::InterleaveLower(d64, t0, t1)), hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1)));
  // Vector k = 4m + {0, 2, 1, 3}[b] is in lane 4b + m.
  alignas(64) static constexpr int32_t kLane[16] = {0, 8, 4, 12, 1, 9, 5, 13, 2, 10, 6, 14, 3, 11, 7, 15};
  hn::StoreU(hn::TableLookupLanes(sums, hn::SetTableIndices(d, kLane)), d, out);
}

// FoldHalves of v[0..C) into out[0..C): whole groups together (sixteen at once where
// vectors have 16 lanes), the rest (fewer than a group, where padding would cost more
// than it saves) one by one.
template <size_t C, class Op = FoldAdd, class D>
HWY_INLINE void FoldMany(D d, const hn::Vec<D>* HWY_RESTRICT v, float* HWY_RESTRICT out) {
  constexpr size_t G = hn::MaxLanes(D()) / 2, kGrouped = kFoldGroups<D> ? C / G * G : 0;
  size_t i = 0;
  if constexpr (G == 8) {
    for (; i + 16 <= kGrouped; i += 16) FoldSixteen<Op>(d, v + i, out + i);
  }
  if constexpr (kGrouped != 0) {
    for (; i < kGrouped; i += G) FoldGroup<Op>(d, v + i, out + i);
  }
  for (i = kGrouped; i < C; ++i) out[i] = FoldHalves<Op>(d, v[i]);
}
#endif

// pairwise_sum<kCount> (core/scalar.hpp): the upper part folds onto the lower, a
// vector at a time where the lower part holds whole vectors, and by halving one
// vector once the rest fits in one.
template <size_t kCount>
HWY_INLINE float PairwiseSum(float* HWY_RESTRICT v) {
  const hn::CappedTag<float, PowerOfTwoIn(kCount)> d;
  const size_t N = hn::Lanes(d);
  for (size_t count = kCount; count > 1;) {
#if QNT_FOLD_HALVES
    if (count == N && N == hn::MaxLanes(d)) return FoldHalves(d, hn::LoadU(d, v));
#endif
    const size_t half = count / 2, rest = count - half;
    size_t i = 0;
    // Reads [rest, count) and writes [0, half): disjoint, as half <= rest.
    for (; i + N <= half; i += N) hn::StoreU(hn::Add(hn::LoadU(d, v + i), hn::LoadU(d, v + i + rest)), d, v + i);
    for (; i < half; ++i) v[i] += v[i + rest];
    count = rest;
  }
  return v[0];
}

// kq::scalar_ops (and fit::scalar_passes) in lanes: the passes of the fast searches
// of every format with a SIMD form. Called from the fits,
// which are compiled once for the baseline, so these are ordinary calls, not forced
// inline (a target's code cannot be inlined there).
struct SearchOps {
  template <int n>
  static HWY_NOINLINE fit::lsq_pass symmetric_pass(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, float dn,
                                                  float id, float qmin, float qmax, float* HWY_RESTRICT q) {
    const hn::CappedTag<float, PowerOfTwoIn(size_t(n))> d;
    const size_t N = hn::Lanes(d);
    const auto vid = hn::Set(d, id), vdn = hn::Set(d, dn), lo = hn::Set(d, qmin), hi = hn::Set(d, qmax);
    float e[n], xq[n], qq[n];
    for (size_t i = 0; i < size_t(n); i += N) {
      const auto vx = hn::LoadU(d, x + i), vw = hn::LoadU(d, w + i);
      // The operands are never NaN, so Max / Min equal round_clamped's comparisons,
      // and RoundEven its rounding of a clamped value, here and below.
      const auto t = hn::Min(hn::Max(hn::Mul(vx, vid), lo), hi);
      const auto vq = RoundEven(d, t);
      const auto r = hn::Sub(vx, hn::Mul(vdn, vq)), wq = hn::Mul(vw, vq);
      hn::StoreU(hn::Mul(hn::Mul(vw, r), r), d, e + i);
      hn::StoreU(hn::Mul(wq, vx), d, xq + i);
      hn::StoreU(hn::Mul(wq, vq), d, qq + i);
      hn::StoreU(vq, d, q + i);
    }
    constexpr size_t m = size_t(n);
    return {PairwiseSum<m>(e), PairwiseSum<m>(xq), PairwiseSum<m>(qq)};
  }

  template <int kSub>
  static HWY_NOINLINE float affine_codes(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp, float nmax, float dl,
                                       float ml, float* HWY_RESTRICT q) {
    const hn::CappedTag<float, kSub> d;
    const size_t N = hn::Lanes(d);
    const float idl = dl > 0 ? 1.f / dl : 0.f;
    const auto vidl = hn::Set(d, idl), vdl = hn::Set(d, dl), vml = hn::Set(d, ml), top = hn::Set(d, nmax);
    const auto zero = hn::Zero(d);
    float e[kSub];
    for (size_t i = 0; i < size_t(kSub); i += N) {
      const auto vx = hn::LoadU(d, xn + i), vw = hn::LoadU(d, imp + i);
      const auto t = hn::Min(hn::Max(hn::Mul(hn::Add(vx, vml), vidl), zero), top);
      const auto vq = RoundEven(d, t);
      const auto r = hn::Sub(vx, hn::Sub(hn::Mul(vdl, vq), vml));
      hn::StoreU(hn::Mul(hn::Mul(vw, r), r), d, e + i);
      hn::StoreU(vq, d, q + i);
    }
    return PairwiseSum<size_t(kSub)>(e);
  }

  template <int kSub>
  static HWY_NOINLINE fit::affine_pass_sums affine_pass(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, float dn,
                                                      float mn, float nmax, float* HWY_RESTRICT q) {
    const hn::CappedTag<float, PowerOfTwoIn(size_t(kSub))> d;
    const size_t N = hn::Lanes(d);
    const float id = dn > 0 ? 1.f / dn : 0.f;
    const auto vid = hn::Set(d, id), vdn = hn::Set(d, dn), vmn = hn::Set(d, mn), top = hn::Set(d, nmax);
    const auto zero = hn::Zero(d);
    float e[kSub], sw[kSub], sx[kSub], sq[kSub], sqq[kSub], sxq[kSub];
    for (size_t i = 0; i < size_t(kSub); i += N) {
      const auto vx = hn::LoadU(d, x + i), vw = hn::LoadU(d, w + i);
      const auto u = hn::Sub(vx, vmn);
      const auto t = hn::Min(hn::Max(hn::Mul(u, vid), zero), top);
      const auto vq = RoundEven(d, t);
      const auto r = hn::Sub(vx, hn::Add(hn::Mul(vdn, vq), vmn)), wq = hn::Mul(vw, vq);
      hn::StoreU(hn::Mul(hn::Mul(vw, r), r), d, e + i);
      hn::StoreU(vw, d, sw + i);
      hn::StoreU(hn::Mul(vw, u), d, sx + i);
      hn::StoreU(wq, d, sq + i);
      hn::StoreU(hn::Mul(wq, vq), d, sqq + i);
      hn::StoreU(hn::Mul(wq, u), d, sxq + i);
      hn::StoreU(vq, d, q + i);
    }
    constexpr size_t n = size_t(kSub);
    return {PairwiseSum<n>(e), PairwiseSum<n>(sw), PairwiseSum<n>(sx), PairwiseSum<n>(sq), PairwiseSum<n>(sqq),
            PairwiseSum<n>(sxq)};
  }

  template <int kSub>
  static HWY_NOINLINE float symmetric_codes(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                          const fit::level_set& L, float dl, float* HWY_RESTRICT q,
                                          fit::lsq_pass* lsq = nullptr) {
    if (!L.consecutive()) {  // a code table, as kq::symmetric_codes
      const fit::lsq_pass p = table_pass<kSub>(xn, imp, L.v, L.count, dl, q);
      if (lsq) lsq->xq = p.xq, lsq->qq = p.qq;
      return p.err;
    }
    const hn::CappedTag<float, kSub> d;
    const size_t N = hn::Lanes(d);
    const float idl = dl != 0 ? 1.f / dl : 0.f;
    const auto vidl = hn::Set(d, idl), vdl = hn::Set(d, dl), first = hn::Set(d, L.first);
    const auto last = hn::Set(d, L.first + float(L.count - 1));
    float e[kSub], xa[kSub], aa[kSub];
    for (size_t i = 0; i < size_t(kSub); i += N) {
      const auto vx = hn::LoadU(d, xn + i), vw = hn::LoadU(d, imp + i);
      const auto a = CodeValue(d, L, hn::Mul(vx, vidl), first, last);
      const auto r = hn::Sub(vx, hn::Mul(vdl, a)), wa = hn::Mul(vw, a);
      hn::StoreU(hn::Mul(hn::Mul(vw, r), r), d, e + i);
      hn::StoreU(hn::Sub(a, first), d, q + i);
      hn::StoreU(hn::Mul(wa, vx), d, xa + i);
      hn::StoreU(hn::Mul(wa, a), d, aa + i);
    }
    if (lsq) lsq->xq = PairwiseSum<size_t(kSub)>(xa), lsq->qq = PairwiseSum<size_t(kSub)>(aa);
    return PairwiseSum<size_t(kSub)>(e);
  }

  template <int n>
  static HWY_NOINLINE fit::lsq_pass table_pass(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w,
                                               const float* values, int count, float dn, float* HWY_RESTRICT c) {
    const hn::CappedTag<float, PowerOfTwoIn(size_t(n))> d;
    const size_t N = hn::Lanes(d);
    const float id = dn != 0 ? 1.f / dn : 0.f;
    const auto vid = hn::Set(d, id), vdn = hn::Set(d, dn);
    float e[n], xv[n], vv[n];
    for (size_t i = 0; i < size_t(n); i += N) {
      const auto vx = hn::LoadU(d, x + i), vw = hn::LoadU(d, w + i), t = hn::Mul(vx, vid);
      // The number of midpoints between table values at or below x / dn, and the
      // value it indexes (the midpoints ascend: the last one passed selects it).
      auto level = hn::Zero(d), v = hn::Set(d, values[0]);
      for (int k = 0; k + 1 < count; ++k) {
        const auto passed = hn::Ge(t, hn::Set(d, 0.5f * (values[k] + values[k + 1])));
        level = hn::Add(level, hn::IfThenElseZero(passed, hn::Set(d, 1.f)));
        v = hn::IfThenElse(passed, hn::Set(d, values[k + 1]), v);
      }
      const auto r = hn::Sub(vx, hn::Mul(vdn, v)), wv = hn::Mul(vw, v);
      hn::StoreU(hn::Mul(hn::Mul(vw, r), r), d, e + i);
      hn::StoreU(hn::Mul(wv, vx), d, xv + i);
      hn::StoreU(hn::Mul(wv, v), d, vv + i);
      hn::StoreU(level, d, c + i);
    }
    constexpr size_t m = size_t(n);
    return {PairwiseSum<m>(e), PairwiseSum<m>(xv), PairwiseSum<m>(vv)};
  }

  // fit::magnitude_pass: the count of midpoints below |x| (the nearest magnitude,
  // the smaller at a tie), then the one below it where that is as near after
  // rounding, as fit's scan finds it first (see there).
  template <int n>
  static HWY_NOINLINE float magnitude_pass(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w,
                                           const float* mags, int count, float dv, float* HWY_RESTRICT level) {
    const hn::CappedTag<float, PowerOfTwoIn(size_t(n))> d;
    const size_t N = hn::Lanes(d);
    const auto one = hn::Set(d, 1.f);
    float e[n];
    for (size_t i = 0; i < size_t(n); i += N) {
      const auto vx = hn::LoadU(d, x + i), a = hn::Abs(vx);
      auto k = hn::Zero(d), hi = hn::Set(d, mags[0] * dv), lo = hi;
      for (int j = 0; j + 1 < count; ++j) {
        const auto passed = hn::Gt(a, hn::Set(d, 0.5f * (mags[j] + mags[j + 1]) * dv));
        k = hn::Add(k, hn::IfThenElseZero(passed, one));
        lo = hn::IfThenElse(passed, hi, lo);
        hi = hn::IfThenElse(passed, hn::Set(d, mags[j + 1] * dv), hi);
      }
      // k > 0 and the smaller magnitude as near: it comes first.
      const auto back = hn::And(hn::Gt(k, hn::Zero(d)), hn::Le(hn::Abs(hn::Sub(lo, a)), hn::Abs(hn::Sub(hi, a))));
      k = hn::IfThenElse(back, hn::Sub(k, one), k);
      const auto r = hn::Sub(vx, hn::CopySign(hn::IfThenElse(back, lo, hi), vx));
      hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, w + i), r), r), d, e + i);
      hn::StoreU(k, d, level + i);
    }
    return PairwiseSum<size_t(n)>(e);
  }

  // kq::scalar_ops::sums: the runs' vectors folded onto one each, then all folded
  // together (FoldMany), where whole vectors hold a run.
  template <int kCount, int kSums>
  static HWY_NOINLINE void sums(float* HWY_RESTRICT v, float* HWY_RESTRICT out) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kCount)>();
    if constexpr (K != 0) {
      const hn::CappedTag<float, PowerOfTwoIn(size_t(kCount))> d;
      hn::Vec<hn::CappedTag<float, PowerOfTwoIn(size_t(kCount))>> folded[kSums];
      for (size_t j = 0; j < size_t(kSums); ++j) {
        hn::Vec<decltype(d)> run[K];
        LoadVectors<K>(d, v + j * size_t(kCount), run);
        folded[j] = FoldOnto1<K>(d, run);
      }
      FoldMany<size_t(kSums)>(d, folded, out);
      return;
    }
#endif
    for (size_t j = 0; j < size_t(kSums); ++j) out[j] = PairwiseSum<size_t(kCount)>(v + j * size_t(kCount));
  }

  // kq::affine_choose: each row's error terms folded onto one vector, all rows
  // folded together (FoldMany), the choice in lanes of sub-blocks.
  template <int kSub, int kNsub, int C>
  static HWY_NOINLINE void affine_choose(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp, float nmax,
                                         const float* dl, const float* ml, float* HWY_RESTRICT least,
                                         int* HWY_RESTRICT win) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    const hn::CappedTag<float, kNsub> dj;
    if constexpr (K != 0) {
      if (size_t(kNsub) % hn::Lanes(dj) == 0) {
        const hn::CappedTag<float, kSub> d;
        using V = hn::Vec<decltype(d)>;
        constexpr size_t R = size_t(kNsub * C);
        const auto zero = hn::Zero(d), top = hn::Set(d, nmax);
        V folded[R];
        ForEachRow<kSub, kNsub, C, true>(d, xn, imp, dl, [&](size_t r, const V* x, const V* w, V vidl) HWY_ATTR {
          const auto vdl = hn::Set(d, dl[r]), vml = hn::Set(d, ml[r]);
          V e[K];
          for (size_t k = 0; k < K; ++k) {
            const auto t = hn::Min(hn::Max(hn::Mul(hn::Add(x[k], vml), vidl), zero), top);
            const auto vq = RoundEven(d, t);
            const auto res = hn::Sub(x[k], hn::Sub(hn::Mul(vdl, vq), vml));
            e[k] = hn::Mul(hn::Mul(w[k], res), res);
          }
          folded[r] = FoldOnto1<K>(d, e);
        });
        float err[R];
        FoldMany<R>(d, folded, err);
        ChooseLeast<kNsub, C>(dj, err, least, win);
        return;
      }
    }
#endif
    kq::affine_choose<SearchOps, kSub, kNsub, C>(xn, imp, nmax, dl, ml, least, win);
  }

  // kq::affine_block_codes: the sums of each row folded onto one vector, then all
  // together (FoldMany).
  template <int kSub, int kNsub>
  static HWY_NOINLINE void affine_block_codes(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp, float nmax,
                                              const float* dl, const float* ml, uint8_t* HWY_RESTRICT codes,
                                              float* HWY_RESTRICT sums) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    if constexpr (K != 0) {
      const hn::CappedTag<float, kSub> d;
      using V = hn::Vec<decltype(d)>;
      constexpr size_t N = hn::MaxLanes(d), J = size_t(kNsub);
      const auto zero = hn::Zero(d), top = hn::Set(d, nmax);
      V folded[3 * J];
      ForEachRow<kSub, kNsub, 1, true>(d, xn, imp, dl, [&](size_t j, const V* x, const V* w, V vidl) HWY_ATTR {
        const auto vml = hn::Set(d, ml[j]);
        V sq[K], sqq[K], sxq[K];
        for (size_t k = 0; k < K; ++k) {
          const auto t = hn::Min(hn::Max(hn::Mul(hn::Add(x[k], vml), vidl), zero), top);
          const auto q = RoundEven(d, t), wq = hn::Mul(w[k], q);
          StoreCodeBytes(d, q, codes + j * kSub + k * N);
          sq[k] = wq, sqq[k] = hn::Mul(wq, q), sxq[k] = hn::Mul(wq, x[k]);
        }
        folded[j] = FoldOnto1<K>(d, sq), folded[J + j] = FoldOnto1<K>(d, sqq), folded[2 * J + j] = FoldOnto1<K>(d, sxq);
      });
      FoldMany<3 * J>(d, folded, sums);
      return;
    }
#endif
    kq::affine_block_codes<SearchOps, kSub, kNsub>(xn, imp, nmax, dl, ml, codes, sums);
  }

  // kq::affine_stats: the sums of each sub-block folded onto one vector, then all
  // together (FoldMany).
  template <int kSub, int kNsub>
  static HWY_NOINLINE void affine_stats(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                        float* HWY_RESTRICT stats) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    if constexpr (K != 0) {
      const hn::CappedTag<float, kSub> d;
      using V = hn::Vec<decltype(d)>;
      constexpr size_t J = size_t(kNsub);
      V folded[4 * J];
      for (size_t j = 0; j < J; ++j) {
        V x[K], w[K];
        LoadVectors<K>(d, xn + j * kSub, x), LoadVectors<K>(d, imp + j * kSub, w);
        auto vlo = hn::Zero(d), vhi = hn::Set(d, xn[j * kSub]);
        for (size_t k = 0; k < K; ++k) vlo = hn::Min(vlo, x[k]), vhi = hn::Max(vhi, x[k]);
        const float lo = hn::GetLane(hn::MinOfLanes(d, vlo));
        stats[j] = lo, stats[J + j] = hn::GetLane(hn::MaxOfLanes(d, vhi));
        const auto vl = hn::Set(d, lo);
        V uu[K], wx[K], wxx[K];
        for (size_t k = 0; k < K; ++k) {
          const auto u = hn::Sub(x[k], vl);
          uu[k] = hn::Mul(hn::Mul(w[k], u), u), wx[k] = hn::Mul(w[k], x[k]), wxx[k] = hn::Mul(wx[k], x[k]);
        }
        folded[j] = FoldOnto1<K>(d, uu), folded[J + j] = FoldOnto1<K>(d, w);
        folded[2 * J + j] = FoldOnto1<K>(d, wx), folded[3 * J + j] = FoldOnto1<K>(d, wxx);
      }
      FoldMany<4 * J>(d, folded, stats + 2 * J);
      return;
    }
#endif
    kq::affine_stats<SearchOps, kSub, kNsub>(xn, imp, stats);
  }

  // kq::affine_pass_rows: each row's sums folded onto one vector each (those of w
  // and w u once per sub-block: they do not depend on the scale), then all folded
  // together (FoldMany).
  template <int kSub, int kNsub, int C>
  static HWY_NOINLINE void affine_pass_rows(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp, const float* dn,
                                            const float* origin, float nmax, float* HWY_RESTRICT sums) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    if constexpr (K != 0) {
      constexpr size_t R = size_t(kNsub * C);
      const hn::CappedTag<float, kSub> d;
      using V = hn::Vec<decltype(d)>;
      const auto zero = hn::Zero(d), top = hn::Set(d, nmax);
      V folded[6][R];  // err, (w, u: per sub-block), q, qq, uq
      float inv[R];
      Reciprocals<R, true>(dn, inv);
      for (size_t j = 0; j < size_t(kNsub); ++j) {
        const auto vmn = hn::Set(d, origin[j]);
        V x[K], w[K], u[K], sx[K];
        LoadVectors<K>(d, xn + j * kSub, x), LoadVectors<K>(d, imp + j * kSub, w);
        for (size_t k = 0; k < K; ++k) u[k] = hn::Sub(x[k], vmn), sx[k] = hn::Mul(w[k], u[k]);
        V sw[K];
        for (size_t k = 0; k < K; ++k) sw[k] = w[k];
        folded[1][j] = FoldOnto1<K>(d, sw), folded[2][j] = FoldOnto1<K>(d, sx);
        for (size_t r = j; r < R; r += size_t(kNsub)) {
          const auto vid = hn::Set(d, inv[r]), vdn = hn::Set(d, dn[r]);
          V e[K], sq[K], sqq[K], suq[K];
          for (size_t k = 0; k < K; ++k) {
            const auto t = hn::Min(hn::Max(hn::Mul(u[k], vid), zero), top);
            const auto vq = RoundEven(d, t);
            const auto res = hn::Sub(x[k], hn::Add(hn::Mul(vdn, vq), vmn)), wq = hn::Mul(w[k], vq);
            e[k] = hn::Mul(hn::Mul(w[k], res), res), sq[k] = wq, sqq[k] = hn::Mul(wq, vq), suq[k] = hn::Mul(wq, u[k]);
          }
          folded[0][r] = FoldOnto1<K>(d, e), folded[3][r] = FoldOnto1<K>(d, sq);
          folded[4][r] = FoldOnto1<K>(d, sqq), folded[5][r] = FoldOnto1<K>(d, suq);
        }
      }
      for (size_t f = 0; f < 6; ++f) {
        if (f == 1 || f == 2) {  // per sub-block, repeated for every row
          FoldMany<size_t(kNsub)>(d, folded[f], sums + f * R);
          for (size_t r = size_t(kNsub); r < R; ++r) sums[f * R + r] = sums[f * R + r - size_t(kNsub)];
        } else {
          FoldMany<R>(d, folded[f], sums + f * R);
        }
      }
      return;
    }
#endif
    kq::affine_pass_rows<SearchOps, kSub, kNsub, C>(xn, imp, dn, origin, nmax, sums);
  }

  // kq::grid_choice in lanes of sub-blocks: the same arithmetic, every lane
  // computed and the updates masked (a lane's quotients by zero are not taken).
  template <int kNsub, int C>
  static HWY_NOINLINE void grid_choice(const float* HWY_RESTRICT sums, const float* HWY_RESTRICT dc,
                                       const float* HWY_RESTRICT origin, const float* HWY_RESTRICT lo,
                                       const float* HWY_RESTRICT hi, const float* HWY_RESTRICT suu, float top, bool own,
                                       kq::grid_state& st) {
    const hn::CappedTag<float, kNsub> d;
    const size_t N = hn::Lanes(d);
    if (size_t(kNsub) % N != 0) return kq::grid_choice<kNsub, C>(sums, dc, origin, lo, hi, suu, top, own, st);
    constexpr size_t R = size_t(kNsub * C);
    const auto zero = hn::Zero(d), two = hn::Set(d, 2.f), vtop = hn::Set(d, top), one_code = hn::Set(d, kq::kOneCode);
    const auto one = hn::Set(d, 1.f);
    for (size_t j = 0; j < size_t(kNsub); j += N) {
      const auto used = hn::Gt(hn::LoadU(d, hi + j), hn::LoadU(d, lo + j));
      const auto vo = hn::LoadU(d, origin + j), h = hn::Sub(vo, hn::LoadU(d, lo + j)), vsuu = hn::LoadU(d, suu + j);
      auto scale = hn::LoadU(d, st.scale + j), neg_min = hn::LoadU(d, st.neg_min + j), best = hn::LoadU(d, st.err + j);
      auto code = hn::LoadU(d, st.c + j), bw = hn::LoadU(d, st.w + j), bu = hn::LoadU(d, st.u + j);
      auto bq = hn::LoadU(d, st.q + j), bqq = hn::LoadU(d, st.qq + j), buq = hn::LoadU(d, st.uq + j);
      auto borigin = hn::LoadU(d, st.origin + j);
      for (size_t c = 0; c < size_t(C); ++c) {
        const size_t r = size_t(kNsub) * c + j;
        const auto e = hn::LoadU(d, sums + r), w = hn::LoadU(d, sums + R + r), u = hn::LoadU(d, sums + 2 * R + r);
        const auto q = hn::LoadU(d, sums + 3 * R + r), qq = hn::LoadU(d, sums + 4 * R + r);
        const auto uq = hn::LoadU(d, sums + 5 * R + r);
        auto take = [&](hn::Mask<decltype(d)> m, hn::Vec<decltype(d)> s_, hn::Vec<decltype(d)> nm,
                        hn::Vec<decltype(d)> err, hn::Vec<decltype(d)> k) HWY_ATTR {
          scale = hn::IfThenElse(m, s_, scale), neg_min = hn::IfThenElse(m, nm, neg_min), best = hn::IfThenElse(m, err, best);
          code = hn::IfThenElse(m, k, code), bw = hn::IfThenElse(m, w, bw), bu = hn::IfThenElse(m, u, bu);
          bq = hn::IfThenElse(m, q, bq), bqq = hn::IfThenElse(m, qq, bqq), buq = hn::IfThenElse(m, uq, buq);
          borigin = hn::IfThenElse(m, vo, borigin);
        };
        if (own) {
          const auto m = hn::And(used, hn::Or(hn::Lt(best, zero), hn::Lt(e, best)));
          take(m, hn::LoadU(d, dc + r), hn::Neg(vo), e, vtop);
        }
        const auto s_uu = hn::IfThenElse(hn::Eq(h, zero), vsuu,
                                         hn::Sub(hn::Sub(vsuu, hn::Mul(hn::Mul(two, h), u)), hn::Mul(hn::Mul(h, h), w)));
        const auto det = hn::Sub(hn::Mul(w, qq), hn::Mul(q, q));
        const auto varied = hn::Gt(det, hn::Mul(hn::Mul(one_code, w), w));
        auto sc = hn::IfThenElseZero(varied, hn::Div(hn::Sub(hn::Mul(w, uq), hn::Mul(u, q)), det));
        auto t = hn::IfThenElseZero(varied, hn::Div(hn::Sub(hn::Mul(qq, u), hn::Mul(q, uq)), det));
        const auto fixed = hn::Or(hn::Not(varied), hn::Gt(hn::Add(vo, t), zero));
        const auto v = hn::Add(uq, hn::Mul(vo, q));
        sc = hn::IfThenElse(fixed, hn::IfThenElseZero(hn::Gt(qq, zero), hn::Div(v, qq)), sc);
        t = hn::IfThenElse(fixed, hn::Neg(vo), t);
        const auto valid = hn::And(hn::And(used, hn::Gt(sc, zero)), hn::And(hn::IsFinite(sc), hn::IsFinite(t)));
        const auto two_s = hn::Mul(two, sc);
        auto err = hn::Sub(s_uu, hn::Mul(two_s, uq));
        err = hn::Sub(err, hn::Mul(hn::Mul(two, t), u));
        err = hn::Add(err, hn::Mul(hn::Mul(sc, sc), qq));
        err = hn::Add(err, hn::Mul(hn::Mul(two_s, t), q));
        err = hn::Max(hn::Add(err, hn::Mul(hn::Mul(t, t), w)), zero);
        // One code value: round_clamped(q / w, 1, top), its comparisons as written (NaN gives 1).
        auto k = hn::Div(q, w);
        k = hn::IfThenElse(hn::Gt(k, one), k, one), k = hn::IfThenElse(hn::Lt(k, vtop), k, vtop);
        k = RoundEven(d, k);
        const auto s_top = hn::IfThenElse(hn::Eq(k, vtop), sc, hn::Div(hn::Mul(sc, k), vtop));
        const auto kv = hn::IfThenElse(varied, vtop, k), sv = hn::IfThenElse(varied, sc, s_top);
        take(hn::And(valid, hn::Lt(err, best)), sv, hn::Neg(hn::Add(vo, t)), err, kv);
      }
      hn::StoreU(scale, d, st.scale + j), hn::StoreU(neg_min, d, st.neg_min + j), hn::StoreU(best, d, st.err + j);
      hn::StoreU(code, d, st.c + j), hn::StoreU(bw, d, st.w + j), hn::StoreU(bu, d, st.u + j);
      hn::StoreU(bq, d, st.q + j), hn::StoreU(bqq, d, st.qq + j), hn::StoreU(buq, d, st.uq + j);
      hn::StoreU(borigin, d, st.origin + j);
    }
  }

  // The code index of t = x / dl (kq::symmetric_codes), and (a not null) its value:
  // for consecutive codes the nearest, for a code table the count of midpoints
  // passed (fit::table_pass). first, last: the end values of consecutive codes.
  template <class D>
  static HWY_INLINE hn::Vec<D> CodeLevel(D d, const fit::level_set& L, hn::Vec<D> t, hn::Vec<D> first, hn::Vec<D> last,
                                         hn::Vec<D>* a = nullptr) {
    if (L.consecutive()) {
      // round_clamped (RoundEven: |t| < 2^22 within the clamp).
      const auto value = RoundEven(d, hn::Min(hn::Max(t, first), last));
      if (a) *a = value;
      return hn::Sub(value, first);
    }
    auto level = hn::Zero(d), v = hn::Set(d, L.v[0]);
    for (int k = 0; k + 1 < L.count; ++k) {
      const auto passed = hn::Ge(t, hn::Set(d, 0.5f * (L.v[k] + L.v[k + 1])));
      level = hn::Add(level, hn::IfThenElseZero(passed, hn::Set(d, 1.f)));
      v = hn::IfThenElse(passed, hn::Set(d, L.v[k + 1]), v);
    }
    if (a) *a = v;
    return level;
  }
  // The code value alone.
  template <class D>
  static HWY_INLINE hn::Vec<D> CodeValue(D d, const fit::level_set& L, hn::Vec<D> t, hn::Vec<D> first, hn::Vec<D> last) {
    hn::Vec<D> a;
    CodeLevel(d, L, t, first, last, &a);
    return a;
  }

#if QNT_FOLD_HALVES
  // The rows of a block-wide pass (row r = kNsub c + j: candidate c < C of sub-block
  // j, as kq::symmetric_rows): each sub-block's kSub weights x and importances w
  // loaded once as K vectors, then fn(r, x, w, 1 / dl[r]) for each of its rows (the
  // reciprocal as Reciprocals<kPositive>).
  template <int kSub, int kNsub, int C, bool kPositive, class D, class Fn>
  static HWY_INLINE void ForEachRow(D d, const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp, const float* dl,
                                    const Fn& fn) {
    constexpr size_t K = VectorsIn<size_t(kSub)>(), R = size_t(kNsub * C);
    float inv[R];
    Reciprocals<R, kPositive>(dl, inv);
    for (size_t j = 0; j < size_t(kNsub); ++j) {
      hn::Vec<D> x[K], w[K];
      LoadVectors<K>(d, xn + j * kSub, x), LoadVectors<K>(d, imp + j * kSub, w);
      for (size_t r = j; r < R; r += size_t(kNsub)) fn(r, x, w, hn::Set(d, inv[r]));
    }
  }
#endif

  // inv[i] = 1 / v[i] where v[i] > 0 (kPositive) or v[i] != 0, else 0, for i < R: the
  // rows' reciprocal scales, a vector of divisions at a time rather than one each.
  template <size_t R, bool kPositive>
  static HWY_INLINE void Reciprocals(const float* HWY_RESTRICT v, float* HWY_RESTRICT inv) {
    const hn::ScalableTag<float> d;
    const size_t N = hn::Lanes(d);
    const size_t full = R / N * N;
    for (size_t i = 0; i < full; i += N) {
      const auto x = hn::LoadU(d, v + i);
      const auto use = kPositive ? hn::Gt(x, hn::Zero(d)) : hn::Ne(x, hn::Zero(d));
      hn::StoreU(hn::IfThenElseZero(use, hn::Div(hn::Set(d, 1.f), x)), d, inv + i);
    }
    for (size_t i = full; i < R; ++i) inv[i] = (kPositive ? v[i] > 0 : v[i] != 0) ? 1.f / v[i] : 0.f;
  }

  // Of rows err[kNsub c + j], c < C, each j's first c of least error (lanes of j,
  // kNsub a multiple of d's lanes): least[j] and win[j].
  template <int kNsub, int C, class D>
  static HWY_INLINE void ChooseLeast(D d, const float* HWY_RESTRICT err, float* HWY_RESTRICT least,
                                     int* HWY_RESTRICT win) {
    const hn::RebindToSigned<D> di;
    for (size_t j = 0; j < size_t(kNsub); j += hn::Lanes(d)) {
      auto best = hn::LoadU(d, err + j);
      auto bwin = hn::Zero(di);
      for (size_t c = 1; c < size_t(C); ++c) {
        const auto e = hn::LoadU(d, err + size_t(kNsub) * c + j);
        const auto take = hn::Lt(e, best);
        best = hn::IfThenElse(take, e, best), bwin = hn::IfThenElse(hn::RebindMask(di, take), hn::Set(di, int32_t(c)), bwin);
      }
      hn::StoreU(best, d, least + j), hn::StoreU(bwin, di, win + j);
    }
  }

  // w (x - dl a)^2, in kq::symmetric_codes' order: the error of a weight x of
  // importance w coded as a at scale dl.
  template <class V>
  static HWY_INLINE V WeightedSquare(V x, V w, V dl, V a) {
    const V res = hn::Sub(x, hn::Mul(dl, a));
    return hn::Mul(hn::Mul(w, res), res);
  }

#if QNT_FOLD_HALVES
  // kq::symmetric_rows: each row (a candidate of a sub-block) folded onto one vector,
  // then all rows folded together (FoldMany); without kErr only the sums of the
  // least-squares scale (err unused).
  template <int kSub, int kNsub, int C, bool kErr = true>
  static HWY_INLINE void SymmetricRows(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                       const fit::level_set& L, const float* dl, float* err, float* sxq, float* sqq) {
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    const hn::CappedTag<float, kSub> d;
    using V = hn::Vec<decltype(d)>;
    constexpr size_t R = size_t(kNsub * C);
    const auto first = hn::Set(d, L.first), last = hn::Set(d, L.first + float(L.count - 1));
    [[maybe_unused]] V fe[kErr ? R : 1];
    V fxa[R], faa[R];
    ForEachRow<kSub, kNsub, C, false>(d, xn, imp, dl, [&](size_t r, const V* x, const V* w, V vid) HWY_ATTR {
      V e[K], xa[K], aa[K];
      for (size_t k = 0; k < K; ++k) {
        const V a = CodeValue(d, L, hn::Mul(x[k], vid), first, last);
        const auto wa = hn::Mul(w[k], a);
        if constexpr (kErr) e[k] = WeightedSquare(x[k], w[k], hn::Set(d, dl[r]), a);
        xa[k] = hn::Mul(wa, x[k]), aa[k] = hn::Mul(wa, a);
      }
      if constexpr (kErr) fe[r] = FoldOnto1<K>(d, e);
      fxa[r] = FoldOnto1<K>(d, xa), faa[r] = FoldOnto1<K>(d, aa);
    });
    if constexpr (kErr) FoldMany<R>(d, fe, err);
    FoldMany<R>(d, fxa, sxq), FoldMany<R>(d, faa, sqq);
  }
#endif

  template <int kSub, int kNsub, int C>
  static HWY_NOINLINE void symmetric_lsq_rows(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                              const fit::level_set& L, const float* dl, float* xq, float* qq) {
#if QNT_FOLD_HALVES
    if constexpr (VectorsIn<size_t(kSub)>() != 0) return SymmetricRows<kSub, kNsub, C, false>(xn, imp, L, dl, nullptr, xq, qq);
#endif
    float err[kNsub * C];
    kq::symmetric_rows<SearchOps, kSub, kNsub, C>(xn, imp, L, dl, err, xq, qq);
  }

  // kq::symmetric_choose: the rows as symmetric_rows, the choice and the products
  // in lanes of sub-blocks, the sums as PairwiseSum.
  template <int kSub, int kNsub, int C>
  static HWY_NOINLINE void symmetric_choose(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                            const fit::level_set& L, const float* HWY_RESTRICT a,
                                            const float* HWY_RESTRICT dl, kq::symmetric_choice<kNsub>& out) {
#if QNT_FOLD_HALVES
    const hn::CappedTag<float, kNsub> d;
    if constexpr (VectorsIn<size_t(kSub)>() != 0) {
      if (size_t(kNsub) % hn::Lanes(d) == 0) {
        constexpr size_t R = size_t(kNsub * C);
        float err[R], sxq[R], sqq[R], least[kNsub], sxa[kNsub], saa[kNsub];
        SymmetricRows<kSub, kNsub, C>(xn, imp, L, dl, err, sxq, sqq);
        for (size_t j = 0; j < size_t(kNsub); j += hn::Lanes(d)) {
          auto e = hn::LoadU(d, err + j), va = hn::LoadU(d, a + j), vdl = hn::LoadU(d, dl + j);
          auto xq = hn::LoadU(d, sxq + j), qq = hn::LoadU(d, sqq + j);
          for (size_t r = j + size_t(kNsub); r < R; r += size_t(kNsub)) {
            const auto take = hn::Lt(hn::LoadU(d, err + r), e);
            e = hn::IfThenElse(take, hn::LoadU(d, err + r), e), va = hn::IfThenElse(take, hn::LoadU(d, a + r), va);
            vdl = hn::IfThenElse(take, hn::LoadU(d, dl + r), vdl);
            xq = hn::IfThenElse(take, hn::LoadU(d, sxq + r), xq), qq = hn::IfThenElse(take, hn::LoadU(d, sqq + r), qq);
          }
          hn::StoreU(e, d, least + j), hn::StoreU(va, d, out.a + j), hn::StoreU(vdl, d, out.dl + j);
          hn::StoreU(hn::Mul(va, xq), d, sxa + j), hn::StoreU(hn::Mul(hn::Mul(va, va), qq), d, saa + j);
        }
        out.err = PairwiseSum<size_t(kNsub)>(least);
        out.sxa = PairwiseSum<size_t(kNsub)>(sxa), out.saa = PairwiseSum<size_t(kNsub)>(saa);
        return;
      }
    }
#endif
    kq::symmetric_choose<SearchOps, kSub, kNsub, C>(xn, imp, L, a, dl, out);
  }

  // fit::signed_max of n values.
  template <int n>
  static HWY_NOINLINE float signed_max(const float* HWY_RESTRICT x) {
    return SignedMax<n>(x);
  }

  // kq::symmetric_block_codes: the codes one sub-block at a time; their errors, when
  // asked for, each folded onto one vector, then all together (as SymmetricRows).
  template <int kSub, int kNsub, bool kErr>
  static HWY_INLINE void SymmetricBlockCodes(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                            const fit::level_set& levels, const float* dl,
                                            uint8_t* HWY_RESTRICT codes, float* err) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    if constexpr (K != 0) {
      const hn::CappedTag<float, kSub> d;
      using V = hn::Vec<decltype(d)>;
      constexpr size_t N = hn::MaxLanes(d);
      const fit::level_set L = levels;  // a copy, which the stores of codes cannot change
      const auto first = hn::Set(d, L.first), last = hn::Set(d, L.first + float(L.count - 1));
      float inv[kNsub];
      Reciprocals<size_t(kNsub), false>(dl, inv);
      [[maybe_unused]] V fe[kErr ? size_t(kNsub) : 1];
      for (size_t j = 0; j < size_t(kNsub); ++j) {
        const auto vid = hn::Set(d, inv[j]);
        [[maybe_unused]] V e[K];
        for (size_t k = 0; k < K; ++k) {
          const auto x = hn::LoadU(d, xn + j * kSub + k * N);
          V a;
          StoreCodeBytes(d, CodeLevel(d, L, hn::Mul(x, vid), first, last, &a), codes + j * kSub + k * N);
          if constexpr (kErr) e[k] = WeightedSquare(x, hn::LoadU(d, imp + j * kSub + k * N), hn::Set(d, dl[j]), a);
        }
        if constexpr (kErr) fe[j] = FoldOnto1<K>(d, e);
      }
      if constexpr (kErr) {
        float sub[kNsub];
        FoldMany<size_t(kNsub)>(d, fe, sub);
        *err = PairwiseSum<size_t(kNsub)>(sub);
      }
      return;
    }
#endif
    kq::symmetric_block_codes<SearchOps, kSub, kNsub>(xn, imp, levels, dl, codes, err);
  }
  template <int kSub, int kNsub>
  static HWY_NOINLINE void symmetric_block_codes(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                                 const fit::level_set& levels, const float* dl,
                                                 uint8_t* HWY_RESTRICT codes, float* err = nullptr) {
    if (err) return SymmetricBlockCodes<kSub, kNsub, true>(xn, imp, levels, dl, codes, err);
    SymmetricBlockCodes<kSub, kNsub, false>(xn, imp, levels, dl, codes, nullptr);
  }

  // kq::sub_scale_choices (choices() of each sub-block) in lanes of sub-blocks: the
  // integers are exact in float lanes; Round is rne's ties to even.
  template <int kNsub, int C>
  static HWY_NOINLINE void sub_scale_choices(const float* HWY_RESTRICT ideal, float dn, int lo, int hi,
                                             float* HWY_RESTRICT a, float* HWY_RESTRICT dl) {
    const hn::CappedTag<float, kNsub> d;
    const size_t N = hn::Lanes(d);
    if (size_t(kNsub) % N != 0) return kq::sub_scale_choices<kNsub, C>(ideal, dn, lo, hi, a, dl);
    const auto vlo = hn::Set(d, float(lo)), vhi = hn::Set(d, float(hi)), vdn = hn::Set(d, dn);
    for (size_t j = 0; j < size_t(kNsub); j += N) {
      auto t = dn != 0 ? hn::Div(hn::LoadU(d, ideal + j), vdn) : hn::Zero(d);
      t = hn::IfThenElse(hn::Gt(t, vlo), t, vlo), t = hn::IfThenElse(hn::Lt(t, vhi), t, vhi);
      hn::Vec<decltype(d)> first, last;
      if constexpr (C != 2) {
        const auto n = RoundEven(d, t), half = hn::Set(d, float(C / 2));
        first = hn::Min(hn::Max(hn::Sub(n, half), vlo), vhi), last = hn::Min(hn::Max(hn::Add(n, half), vlo), vhi);
      } else {
        first = hn::Floor(t), last = hn::Min(hn::Add(first, hn::Set(d, 1.f)), vhi);
      }
      if (dn == 0) last = first;  // every integer scale is the same
      for (size_t c = 0; c < size_t(C); ++c) {
        const auto v = hn::Min(hn::Add(first, hn::Set(d, float(c))), last);
        hn::StoreU(v, d, a + size_t(kNsub) * c + j), hn::StoreU(hn::Mul(vdn, v), d, dl + size_t(kNsub) * c + j);
      }
    }
  }

  // kq::grid_scale_choice in lanes of sub-blocks.
  template <int kNsub>
  static HWY_NOINLINE void grid_scale_choice(const float* HWY_RESTRICT dc, const float* HWY_RESTRICT xq,
                                             const float* HWY_RESTRICT qq, const float* HWY_RESTRICT sxx, int count,
                                             bool first, float* HWY_RESTRICT ideal, float* HWY_RESTRICT best) {
    const hn::CappedTag<float, kNsub> d;
    const size_t N = hn::Lanes(d);
    if (size_t(kNsub) % N != 0) return kq::grid_scale_choice<kNsub>(dc, xq, qq, sxx, count, first, ideal, best);
    const auto zero = hn::Zero(d);
    for (size_t j = 0; j < size_t(kNsub); j += N) {
      const auto s = hn::LoadU(d, sxx + j);
      auto vi = first ? hn::LoadU(d, dc + j) : hn::LoadU(d, ideal + j);
      auto vb = first ? s : hn::LoadU(d, best + j);
      for (size_t c = 0; c < size_t(count); ++c) {
        const size_t r = size_t(kNsub) * c + j;
        // qq <= 0: no least-squares scale (the quotient is not used)
        const auto vxq = hn::LoadU(d, xq + r), vqq = hn::LoadU(d, qq + r);
        const auto lsq = hn::Div(vxq, vqq), lsq_err = hn::Max(hn::Sub(s, hn::Mul(vxq, lsq)), zero);
        const auto better = hn::And(hn::Gt(vqq, zero), hn::Lt(lsq_err, vb));
        vi = hn::IfThenElse(better, lsq, vi), vb = hn::IfThenElse(better, lsq_err, vb);
      }
      hn::StoreU(vi, d, ideal + j), hn::StoreU(vb, d, best + j);
    }
  }

  // kq::grid_candidates in lanes of sub-blocks (the same divisions).
  template <int kNsub, int C>
  static HWY_NOINLINE void grid_candidates(const float* HWY_RESTRICT m, const float* HWY_RESTRICT f,
                                           float* HWY_RESTRICT dc) {
    const hn::CappedTag<float, kNsub> d;
    const size_t N = hn::Lanes(d);
    if (size_t(kNsub) % N != 0) return kq::grid_candidates<kNsub, C>(m, f, dc);
    for (size_t j = 0; j < size_t(kNsub); j += N) {
      const auto vm = hn::LoadU(d, m + j);
      const auto num = hn::IfThenElse(hn::Lt(hn::Abs(vm), hn::Set(d, kq::group_max_eps)), hn::Set(d, 1.f), vm);
      for (size_t c = 0; c < size_t(C); ++c) hn::StoreU(hn::Div(num, hn::Set(d, f[c])), d, dc + size_t(kNsub) * c + j);
    }
  }

  // kq::symmetric_stats: each sub-block's sum, largest and smallest weight folded
  // onto one vector each, then all sub-blocks together (FoldMany with FoldAdd,
  // FoldMax, FoldMin), the signed maxima from the last two in lanes; the reference
  // where vectors do not fold.
  template <int kSub, int kNsub>
  static HWY_NOINLINE void symmetric_stats(const float* HWY_RESTRICT xn, const float* HWY_RESTRICT imp,
                                           float* HWY_RESTRICT m, float* HWY_RESTRICT sxx) {
#if QNT_FOLD_HALVES
    constexpr size_t K = VectorsIn<size_t(kSub)>();
    if constexpr (K != 0) {
      const hn::CappedTag<float, kSub> d;
      using V = hn::Vec<decltype(d)>;
      V folded[size_t(kNsub)], vhi[size_t(kNsub)], vlo[size_t(kNsub)];
      for (size_t j = 0; j < size_t(kNsub); ++j) {
        V x[K], w[K], hi[K], lo[K];
        LoadVectors<K>(d, xn + j * kSub, x), LoadVectors<K>(d, imp + j * kSub, w);
        for (size_t k = 0; k < K; ++k) w[k] = hn::Mul(hn::Mul(w[k], x[k]), x[k]), hi[k] = x[k], lo[k] = x[k];
        folded[j] = FoldOnto1<K>(d, w), vhi[j] = FoldOnto1<K, FoldMax>(d, hi), vlo[j] = FoldOnto1<K, FoldMin>(d, lo);
      }
      FoldMany<size_t(kNsub)>(d, folded, sxx);
      // The signed maxima from each sub-block's largest and smallest weight: the one
      // of larger magnitude, or where both have it, whichever comes first.
      float hi[kNsub], lo[kNsub];
      FoldMany<size_t(kNsub), FoldMax>(d, vhi, hi), FoldMany<size_t(kNsub), FoldMin>(d, vlo, lo);
      const hn::CappedTag<float, kNsub> dj;
      bool ties = false;
      for (size_t j = 0; j < size_t(kNsub); j += hn::Lanes(dj)) {
        const auto h = hn::LoadU(dj, hi + j), l = hn::Neg(hn::LoadU(dj, lo + j));
        hn::StoreU(hn::IfThenElse(hn::Gt(h, l), h, hn::Neg(l)), dj, m + j);
        ties = ties || !hn::AllFalse(dj, hn::Eq(h, l));
      }
      if (ties)
        for (size_t j = 0; j < size_t(kNsub); ++j)
          if (hi[j] == -lo[j]) m[j] = hi[j] > 0 ? FirstOfMagnitude(d, xn + j * kSub, size_t(kSub), hn::Set(d, hi[j])) : 0.f;
      return;
    }
#endif
    kq::symmetric_stats<kSub, kNsub>(xn, imp, m, sxx);
  }
  // fit::signed_max: the first element of largest magnitude, as the first lane
  // where |x| equals the largest; 0 for an all-zero x.
  template <int kSub>
  static HWY_INLINE float SignedMax(const float* HWY_RESTRICT x) {
    const hn::CappedTag<float, kSub> d;
    const size_t N = hn::Lanes(d);
    if (size_t(kSub) % N != 0) return fit::signed_max(x, size_t(kSub));
    auto amax = hn::Zero(d);
    for (size_t i = 0; i < size_t(kSub); i += N) amax = hn::Max(amax, hn::Abs(hn::LoadU(d, x + i)));
    amax = hn::MaxOfLanes(d, amax);
    return hn::GetLane(amax) > 0 ? FirstOfMagnitude(d, x, size_t(kSub), amax) : 0.f;
  }

  // fit::normalized: the largest magnitude (exact in any order) and the products.
  template <size_t n>
  static HWY_NOINLINE float normalize(const float* HWY_RESTRICT x, float* HWY_RESTRICT xn) {
    const hn::CappedTag<float, n> d;
    const size_t N = hn::Lanes(d);
    auto amax = hn::Zero(d);
    for (size_t i = 0; i < n; i += N) amax = hn::Max(amax, hn::Abs(hn::LoadU(d, x + i)));
    const float p = fit::normalizer_of(hn::GetLane(hn::MaxOfLanes(d, amax)));
    for (size_t i = 0; i < n; i += N) hn::StoreU(hn::Mul(hn::LoadU(d, x + i), hn::Set(d, p)), d, xn + i);
    return p;
  }

  // kq::model_choice in lanes, one per sub-block (no NaN reaches Min / Max).
  template <int kNsub>
  static HWY_NOINLINE void model_choice(const kq::block_models& m, float top, float dn, float inv_dn, float mdn,
                                        float* HWY_RESTRICT err, float* HWY_RESTRICT a, float* HWY_RESTRICT b) {
    const hn::CappedTag<float, kNsub> d;
    const size_t N = hn::Lanes(d);
    const auto vtop = hn::Set(d, top), vdn = hn::Set(d, dn), vinv = hn::Set(d, inv_dn), vmdn = hn::Set(d, mdn);
    const auto zero = hn::Zero(d), one = hn::Set(d, 1.f), two = hn::Set(d, 2.f);
    for (size_t i = 0; i < size_t(kNsub); i += N) {
      const auto w = hn::LoadU(d, m.w + i), x = hn::LoadU(d, m.x + i), q = hn::LoadU(d, m.q + i);
      const auto qq = hn::LoadU(d, m.qq + i), xq = hn::LoadU(d, m.xq + i);
      const auto per_min = mdn > 0 ? hn::IfThenElseZero(hn::Gt(w, zero), hn::Div(one, hn::Mul(w, vmdn))) : zero;
      const auto a0 = hn::Floor(hn::Min(hn::Mul(hn::LoadU(d, m.scale + i), vinv), vtop));
      const auto a1 = hn::Min(hn::Add(a0, one), vtop);
      auto min_of = [&](decltype(a0) dl) HWY_ATTR {
        const auto t = hn::Min(hn::Max(hn::Mul(hn::Sub(hn::Mul(dl, q), x), per_min), zero), vtop);
        return RoundEven(d, t);
      };
      auto model = [&](decltype(a0) dl, decltype(a0) ml) HWY_ATTR {  // kq::model_error
        const auto scale_part = hn::Mul(dl, hn::Sub(hn::Mul(dl, qq), hn::Mul(two, xq)));
        const auto min_part = hn::Mul(ml, hn::Add(hn::Mul(ml, w), hn::Mul(two, x)));
        return hn::Sub(hn::Add(scale_part, min_part), hn::Mul(hn::Mul(hn::Mul(two, dl), ml), q));
      };
      const auto dl0 = hn::Mul(vdn, a0), dl1 = hn::Mul(vdn, a1);
      const auto b0 = min_of(dl0), b1 = min_of(dl1);
      const auto e0 = model(dl0, hn::Mul(vmdn, b0)), e1 = model(dl1, hn::Mul(vmdn, b1));
      const auto second = hn::Lt(e1, e0);
      hn::StoreU(hn::IfThenElse(second, e1, e0), d, err + i);
      hn::StoreU(hn::IfThenElse(second, a1, a0), d, a + i);
      hn::StoreU(hn::IfThenElse(second, b1, b0), d, b + i);
    }
  }

  // kq::range_of: min and max are exact, so any order gives its result.
  template <int kSub>
  static HWY_NOINLINE void range(const float* HWY_RESTRICT x, float& lo, float& hi) {
    const hn::CappedTag<float, kSub> d;
    const size_t N = hn::Lanes(d);
    auto vlo = hn::Zero(d), vhi = hn::Set(d, x[0]);
    for (size_t i = 0; i + N <= size_t(kSub); i += N) {
      const auto v = hn::LoadU(d, x + i);
      vlo = hn::Min(vlo, v), vhi = hn::Max(vhi, v);
    }
    lo = hn::GetLane(hn::MinOfLanes(d, vlo)), hi = hn::GetLane(hn::MaxOfLanes(d, vhi));
    for (size_t i = size_t(kSub) / N * N; i < size_t(kSub); ++i) lo = min(lo, x[i]), hi = max(hi, x[i]);
  }
};

// fit::fit_symmetric_fast with the block's scaling in lanes too: fit::normalized and
// fit::signed_max (the first element of largest magnitude) from `amax`, the
// largest |x| of the clean block.
template <class F>
HWY_INLINE status EncodeSymmetricFast(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, float amax,
                                      typename F::block& y) {
  constexpr size_t n = F::block_size;
  const hn::CappedTag<float, PowerOfTwoIn(n)> d;
  const size_t N = hn::Lanes(d);
  const float p = fit::normalizer_of(amax);
  float xn[n];
  const auto vp = hn::Set(d, p);
  auto amax_n = hn::Zero(d);
  for (size_t i = 0; i < n; i += N) {
    const auto v = hn::Mul(hn::LoadU(d, x + i), vp);
    hn::StoreU(v, d, xn + i);
    amax_n = hn::Max(amax_n, hn::Abs(v));
  }
  const auto top = hn::MaxOfLanes(d, amax_n);
  const float m = FirstOfMagnitude(d, xn, n, top);
  bool clamped = false;
  int q[n];
  const float scale =
      fit::symmetric_fast_search<typename F::scale, n, SearchOps>(xn, p, m, w, F::qmin, F::qmax, clamped, q);
  F::store(y, scale, q);
  return clamped ? status::scale_clamped : status::ok;
}

#if QNT_FOLD_HALVES
// Symmetric formats whose block fills 2 to 8 whole vectors (a power of two of them)
// keep the block, both candidates' codes and the sums in registers; the sums fold
// in pairwise_sum's order (vector halves onto each other, then FoldHalves).
template <class F>
constexpr size_t RegisterVectors() {
  constexpr size_t k = VectorsIn<F::block_size>();
  return k >= 2 && k <= 8 ? k : 0;
}

// A block's codes (code_planes), from K vectors of codes 0 .. 2^bits - 1: small
// integers, so the packing is exact in float lanes, then converted and narrowed.
template <class F, size_t K, class D>
HWY_INLINE void StorePlanes(D d, const hn::Vec<D>* codes, typename F::block& y) {
  constexpr size_t N = hn::MaxLanes(D());
  if constexpr (F::bits == 8) {
    for (size_t k = 0; k < K; ++k) StoreCodeBytes(d, codes[k], y.qs + k * N);
  } else {
    const auto sixteen = hn::Set(d, 16.f);
    hn::Vec<D> u[K];
    for (size_t k = 0; k < K; ++k) u[k] = codes[k];
    if constexpr (F::bits == 5) {
      for (size_t i = 0; i < F::planes::qh_bytes; ++i) y.qh[i] = 0;
      for (size_t k = 0; k < K; ++k) {
        const auto high = hn::Ge(u[k], sixteen);
        uint8_t bits[8] = {};
        hn::StoreMaskBits(d, high, bits);
        for (size_t i = 0; i < (N + 7) / 8; ++i)
          y.qh[(k * N) / 8 + i] = uint8_t(y.qh[(k * N) / 8 + i] | bits[i] << ((k * N) % 8));
        u[k] = hn::IfThenElse(high, hn::Sub(u[k], sixteen), u[k]);
      }
    }
    for (size_t k = 0; k < K / 2; ++k) StoreCodeBytes(d, hn::Add(u[k], hn::Mul(u[k + K / 2], sixteen)), y.qs + k * N);
  }
}

// fit::fit_symmetric_fast of B consecutive clean blocks (w null: importance 1),
// each held in K vectors, the B searches interleaved through one call of
// fit::symmetric_fast_choice so that their long chains of dependent steps overlap.
// Loads a block of K vectors and scales it as fit::normalized does: returns the
// power of two p, writes x * p to xn and the largest |x| (in every lane) to amax.
template <size_t K, class D>
HWY_INLINE float LoadNormalized(D d, const float* HWY_RESTRICT x, hn::Vec<D>* xn, hn::Vec<D>& amax) {
  LoadVectors<K>(d, x, xn);
  amax = hn::Zero(d);
  for (size_t k = 0; k < K; ++k) amax = hn::Max(amax, hn::Abs(xn[k]));
  amax = hn::MaxOfLanes(d, amax);
  const float p = fit::normalizer_of(hn::GetLane(amax));
  for (size_t k = 0; k < K; ++k) xn[k] = hn::Mul(xn[k], hn::Set(d, p));
  return p;
}

template <class F, size_t K, size_t B, class D>
HWY_INLINE status EncodeSymmetricBlocks(D d, const float* HWY_RESTRICT x, const float* HWY_RESTRICT w,
                                        typename F::block* HWY_RESTRICT y) {
  constexpr size_t N = hn::MaxLanes(D()), n = F::block_size;
  const hn::RebindToSigned<D> di;
  hn::Vec<D> xn[B][K];
  float p[B], m[B];
  for (size_t b = 0; b < B; ++b) {
    hn::Vec<D> amax;
    p[b] = LoadNormalized<K>(d, x + b * n, xn[b], amax);
    // fit::signed_max: the first element of largest magnitude (scaling by a power
    // of two is exact, so on the normalized axis it is x * p). Its index is the
    // least of those where |x| == amax, found without branches.
    auto first = hn::Set(di, int32_t(n));
    for (size_t k = K; k-- > 0;) {
      const auto index = hn::Add(hn::Iota(di, 0), hn::Set(di, int32_t(k * N)));
      const auto at_max = hn::Eq(hn::Abs(hn::LoadU(d, x + b * n + k * N)), amax);
      first = hn::Min(first, hn::IfThenElse(hn::RebindMask(di, at_max), index, first));
    }
    m[b] = hn::GetLane(amax) == 0 ? 0.f : x[b * n + size_t(hn::GetLane(hn::MinOfLanes(di, first)))] * p[b];
  }
  const auto lo = hn::Set(d, float(F::qmin)), hi = hn::Set(d, float(F::qmax));
  hn::Vec<D> q[2][B][K];
  // fit::symmetric_pass; with w null the products with w = 1 are left out (exact).
  // Slot -1 (the grid) needs neither the codes nor the error.
  auto pass = [&](const float* dn, const float* id, int slot, fit::lsq_pass* sums) HWY_ATTR {
    hn::Vec<D> folded[3 * B];  // xq, qq, e: B blocks each, K vectors folded onto one
    for (size_t b = 0; b < B; ++b) {
      const auto vid = hn::Set(d, id[b]), vdn = hn::Set(d, dn[b]);
      hn::Vec<D> e[K], xq[K], qq[K];
      for (size_t k = 0; k < K; ++k) {
        const auto vq = RoundEven(d, hn::Min(hn::Max(hn::Mul(xn[b][k], vid), lo), hi));
        const auto r = hn::Sub(xn[b][k], hn::Mul(vdn, vq));
        if (w) {
          const auto vw = hn::LoadU(d, w + b * n + k * N), wq = hn::Mul(vw, vq);
          e[k] = hn::Mul(hn::Mul(vw, r), r), xq[k] = hn::Mul(wq, xn[b][k]), qq[k] = hn::Mul(wq, vq);
        } else {
          e[k] = hn::Mul(r, r), xq[k] = hn::Mul(vq, xn[b][k]), qq[k] = hn::Mul(vq, vq);
        }
        if (slot >= 0) q[slot][b][k] = vq;
      }
      folded[b] = FoldOnto1<K>(d, xq), folded[B + b] = FoldOnto1<K>(d, qq), folded[2 * B + b] = FoldOnto1<K>(d, e);
    }
    float s[3 * B];
    if (slot >= 0) FoldMany<3 * B>(d, folded, s);
    else FoldMany<2 * B>(d, folded, s);
    for (size_t b = 0; b < B; ++b) sums[b] = {slot >= 0 ? s[2 * B + b] : 0.f, s[b], s[B + b]};
  };
  fit::fast_choice c[B];
  fit::symmetric_fast_choice<typename F::scale, B>(p, m, F::qmin, F::qmax, pass, c);
  bool clamped = false;
  for (size_t b = 0; b < B; ++b) {
    clamped = clamped || c[b].clamped;
    y[b].d.set(c[b].d);
    hn::Vec<D> u[K];
    for (size_t k = 0; k < K; ++k) u[k] = c[b].slot < 0 ? hn::Zero(d) : q[c[b].slot][b][k];
    if constexpr (F::bits == 8) {
      const hn::Rebind<int8_t, D> di8;
      for (size_t k = 0; k < K; ++k) hn::StoreU(hn::DemoteTo(di8, hn::ConvertTo(di, u[k])), di8, y[b].qs + k * N);
    } else {
      for (size_t k = 0; k < K; ++k) u[k] = hn::Add(u[k], hn::Set(d, float(-F::qmin)));
      StorePlanes<F, K>(d, u, y[b]);
    }
  }
  return clamped ? status::scale_clamped : status::ok;
}

// fit::fit_affine_fast of B consecutive clean blocks (w null: importance 1), each
// held in K vectors, interleaved through fit::affine_fast_choice.
template <class F, size_t K, size_t B, class D>
HWY_INLINE status EncodeAffineBlocks(D d, const float* HWY_RESTRICT x, const float* HWY_RESTRICT w,
                                     typename F::block* HWY_RESTRICT y) {
  constexpr size_t N = hn::MaxLanes(D()), n = F::block_size;
  hn::Vec<D> xn[B][K];
  float p[B], lo[B], hi[B];
  for (size_t b = 0; b < B; ++b) {
    hn::Vec<D> amax;
    p[b] = LoadNormalized<K>(d, x + b * n, xn[b], amax);
    // Scaling by a positive power of two keeps the order: min and max are exact.
    auto vlo = xn[b][0], vhi = xn[b][0];
    for (size_t k = 1; k < K; ++k) vlo = hn::Min(vlo, xn[b][k]), vhi = hn::Max(vhi, xn[b][k]);
    lo[b] = hn::GetLane(hn::MinOfLanes(d, vlo)), hi[b] = hn::GetLane(hn::MaxOfLanes(d, vhi));
  }
  const auto zero = hn::Zero(d), top = hn::Set(d, float(F::nmax));
  hn::Vec<D> q[2][B][K];
  // fit::affine_pass; with w null the products with w = 1 are left out (exact).
  auto pass = [&](const float* dn, const float* mn, int slot, fit::affine_pass_sums* sums) HWY_ATTR {
    hn::Vec<D> folded[6 * B];  // e, w, u, q, qq, uq of each block, folded onto one vector, then together
    for (size_t b = 0; b < B; ++b) {
      const float id = dn[b] > 0 ? 1.f / dn[b] : 0.f;
      const auto vid = hn::Set(d, id), vdn = hn::Set(d, dn[b]), vmn = hn::Set(d, mn[b]);
      hn::Vec<D> e[K], sw[K], sx[K], sq[K], sqq[K], sxq[K];
      for (size_t k = 0; k < K; ++k) {
        const auto u = hn::Sub(xn[b][k], vmn);
        const auto vq = RoundEven(d, hn::Min(hn::Max(hn::Mul(u, vid), zero), top));
        const auto r = hn::Sub(xn[b][k], hn::Add(hn::Mul(vdn, vq), vmn));
        const auto vw = w ? hn::LoadU(d, w + b * n + k * N) : hn::Set(d, 1.f);
        const auto wq = w ? hn::Mul(vw, vq) : vq;
        e[k] = hn::Mul(w ? hn::Mul(vw, r) : r, r), sw[k] = vw, sx[k] = w ? hn::Mul(vw, u) : u;
        sq[k] = wq, sqq[k] = hn::Mul(wq, vq), sxq[k] = hn::Mul(wq, u);
        q[slot][b][k] = vq;
      }
      folded[6 * b] = FoldOnto1<K>(d, e), folded[6 * b + 1] = FoldOnto1<K>(d, sw), folded[6 * b + 2] = FoldOnto1<K>(d, sx);
      folded[6 * b + 3] = FoldOnto1<K>(d, sq), folded[6 * b + 4] = FoldOnto1<K>(d, sqq);
      folded[6 * b + 5] = FoldOnto1<K>(d, sxq);
    }
    float s[6 * B];
    FoldMany<6 * B>(d, folded, s);
    for (size_t b = 0; b < B; ++b) sums[b] = {s[6 * b], s[6 * b + 1], s[6 * b + 2], s[6 * b + 3], s[6 * b + 4], s[6 * b + 5]};
  };
  fit::affine_choice c[B];
  fit::affine_fast_choice<typename F::scale, B>(p, lo, hi, F::nmax, pass, c);
  bool clamped = false;
  for (size_t b = 0; b < B; ++b) {
    clamped = clamped || c[b].clamped;
    y[b].d.set(c[b].d), y[b].m.set(c[b].m);
    StorePlanes<F, K>(d, q[c[b].slot][b], y[b]);
  }
  return clamped ? status::scale_clamped : status::ok;
}
#endif

// Quantizes blocks [0, blocks) (w null: importance 1). The fast search: the
// symmetric formats here, the others through their encoder with SearchOps. The
// thorough search: encoders that take a policy (the k-quants, iq4_xs) run their
// passes with SearchOps too; the others' thorough searches are scalar. Blocks that
// need cleaning (non-finite or too large weights) take the scalar path, which
// treats them as quantize documents.
template <class F>
status Quantize(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, typename F::block* HWY_RESTRICT y,
                size_t blocks, effort e) {
#if HWY_TARGET == HWY_SCALAR
  // One lane gains nothing on the reference, which is as fast or faster here (and
  // the same bytes by definition): less code to compile.
  return detail::encode_blocks_reference<F>(x, w, y, blocks, e);
#else
  constexpr size_t n = F::block_size;
  const hn::CappedTag<float, PowerOfTwoIn(n)> d;
  const size_t N = hn::Lanes(d);
  const auto limit = hn::Set(d, max_magnitude<F>);
  status st = status::ok;
  constexpr bool symmetric = requires { F::qmin; typename F::planes; };
  constexpr bool affine = requires { F::nmax; typename F::planes; };
  // Fast searches of B blocks at once in registers (where vectors fold in halves).
#if QNT_FOLD_HALVES
  constexpr bool kBatched = (symmetric || affine) && RegisterVectors<F>() != 0;
  if constexpr (kBatched) if (e == effort::fast) {
    // Blocks per batch (fit::symmetric_fast_choice's and fit::affine_fast_choice's
    // B): enough independent work to cover the searches' chains of scalar steps,
    // as many as the affine one's registers allow.
    constexpr size_t K = RegisterVectors<F>(), B = symmetric ? 8 : 4;
    // Whether block b is finite and within max_magnitude (else the scalar path cleans it).
    auto clean = [&](size_t b) HWY_ATTR {
      auto ok = hn::Eq(hn::Zero(d), hn::Zero(d));
      for (size_t k = 0; k < K; ++k) ok = hn::And(ok, hn::Le(hn::Abs(hn::LoadU(d, x + b * n + k * N)), limit));
      return hn::AllTrue(d, ok);  // false for NaN
    };
    // B clean blocks from block i.
    auto encode = [&](size_t i) HWY_ATTR {
      if constexpr (symmetric) return EncodeSymmetricBlocks<F, K, B>(d, x + i * n, w ? w + i * n : nullptr, y + i);
      else return EncodeAffineBlocks<F, K, B>(d, x + i * n, w ? w + i * n : nullptr, y + i);
    };
    // A block outside a batch of B clean ones (the last blocks of a call, or a batch
    // with a block to clean) takes the scalar reference: the same bytes, and one
    // form of the SIMD search per format instead of two to compile.
    auto one = [&](size_t i) HWY_ATTR {
      return detail::encode_block<F>(x + i * n, w ? w + i * n : detail::ones<n>.w, y[i], effort::fast);
    };
    size_t b = 0;
    for (; b + B <= blocks; b += B) {
      bool all = true;
      for (size_t i = 0; i < B; ++i) all = clean(b + i) && all;
      if (all) {
        st = worst(st, encode(b));
      } else {
        for (size_t i = b; i < b + B; ++i) st = worst(st, one(i));
      }
    }
    for (; b < blocks; ++b) st = worst(st, one(b));
    return st;
  }
#else
  constexpr bool kBatched = false;
  (void)symmetric, (void)affine;
#endif
  for (size_t b = 0; b < blocks; ++b) {
    const float* xb = x + b * n;
    const float* wb = w ? w + b * n : detail::ones<n>.w;
    auto amax = hn::Zero(d);
    auto clean = hn::Eq(amax, amax);  // all true
    for (size_t i = 0; i < n; i += N) {
      const auto a = hn::Abs(hn::LoadU(d, xb + i));
      clean = hn::And(clean, hn::Le(a, limit));  // false for NaN
      amax = hn::Max(amax, a);
    }
    if (!hn::AllTrue(d, clean)) {
      st = worst(st, detail::encode_block<F>(xb, wb, y[b], e));
      continue;
    }
    if constexpr (requires { F::template encode<SearchOps>(xb, wb, y[b], e); })
      st = worst(st, F::template encode<SearchOps>(xb, wb, y[b], e));
    else if (kBatched || e == effort::thorough)  // kBatched: thorough only here
      st = worst(st, detail::encode_block<F>(xb, wb, y[b], e));
    else
      st = worst(st, EncodeSymmetricFast<F>(xb, wb, hn::GetLane(hn::MaxOfLanes(d, amax)), y[b]));
  }
  return st;
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace qnt
HWY_AFTER_NAMESPACE();

#undef QNT_FOLD_HALVES

#endif  // per-target include guard

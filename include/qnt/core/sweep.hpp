// Exhaustive scale search for a small group of weights on a sorted set of levels
// (integer codes, or a non-linear table such as iq4_nl's).
//
// For an inverse scale s > 0 every weight takes the level nearest to s * x. As s
// grows, each weight's level changes only at the points where s * x crosses a
// midpoint between two adjacent levels. Walking those points in order visits every
// assignment of levels that nearest rounding can produce, and the least-squares
// scale of each assignment is known from running sums. The optimal pair (scale,
// levels) of a group has levels that are the nearest to x / scale, so it is among
// the assignments visited whenever 1 / scale lies in the range walked: the walk
// finds the global optimum there, not a point on a grid.
#pragma once

#include <cstddef>
#include <cstdint>

#include "scalar.hpp"

namespace qnt::fit {

// Nearest entry; an exact midpoint goes to the upper entry.
constexpr int nearest_index(const float* values, int count, float v) {
  if (!(v > values[0])) return 0;
  if (v >= values[count - 1]) return count - 1;
  int lo = 0, hi = count - 1;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < values[mid]) hi = mid;
    else lo = mid;
  }
  return v - values[hi - 1] < values[hi] - v ? hi - 1 : hi;
}

// A point where one weight moves to the next level (upwards for a positive
// weight, downwards for a negative one). Ordered by position, then by weight
// index, so that the walk is the same on every machine.
struct level_event {
  float s;
  int i;
  constexpr bool operator<(const level_event& o) const { return s < o.s || (s == o.s && i < o.i); }
};

// The sorted levels a group is quantized to: a table, or the consecutive integers
// first, first + 1, ... (found by rounding, no search, and no table to build).
struct level_set {
  const float* v = nullptr;  // ascending; null for consecutive integers
  int count = 0;
  float first = 0;
  static constexpr level_set integers(int lo, int hi) { return {nullptr, hi - lo + 1, float(lo)}; }
  constexpr bool consecutive() const { return v == nullptr; }
  constexpr float value(int k) const { return v ? v[k] : first + float(k); }
  constexpr int nearest(float t) const { return v ? nearest_index(v, count, t) : clamp(rne(t - first), 0, count - 1); }
};

// What the walk found: the inverse scale to round at (the middle of the best
// interval) and the least-squares scale (and offset, for `walk_affine`) of that
// assignment. `found` is false when no assignment had a nonzero level.
struct walk_result {
  float s = 0, d = 0, m = 0;
  float gain = 0;  // weighted squared error removed: sum w x^2 minus the error
  bool found = false;
};

// Sorts events with positions in (s_lo, s_hi]: a counting sort into as many equal
// buckets as there are events, then an insertion sort that only has to order the
// few events sharing a bucket. Linear time for the spread-out positions of a walk,
// where a comparison sort made the search several times slower.
template <size_t kCap>
constexpr void sort_events(level_event (&ev)[kCap], int count, float s_lo, float s_hi) {
  if (count < 2) return;
  level_event tmp[kCap];
  int start[kCap + 1];
  for (int b = 0; b <= count; ++b) start[b] = 0;
  const float scale = float(count) / (s_hi - s_lo);
  auto bucket = [&](float s) { return clamp(int((s - s_lo) * scale), 0, count - 1); };
  for (int k = 0; k < count; ++k) ++start[bucket(ev[k].s) + 1];
  for (int b = 0; b < count; ++b) start[b + 1] += start[b];
  for (int k = 0; k < count; ++k) tmp[start[bucket(ev[k].s)]++] = ev[k];
  for (int k = 0; k < count; ++k) {
    const level_event e = tmp[k];
    int j = k;
    for (; j > 0 && e < ev[j - 1]; --j) ev[j] = ev[j - 1];
    ev[j] = e;
  }
}

// Collects the level changes of x[0..n) for inverse scales in (s_lo, s_hi] into
// `ev` (capacity `cap`: changes beyond it are dropped, which only narrows the walk),
// sorted. `level[i]` receives each weight's level at s_lo.
template <size_t kCap>
constexpr int collect_events(const float* x, int n, const level_set& L, float s_lo, float s_hi, int* level,
                             level_event (&ev)[kCap]) {
  int count = 0;
  for (int i = 0; i < n; ++i) {
    level[i] = L.nearest(s_lo * x[i]);
    if (x[i] == 0) continue;
    const float inv = 1.f / x[i];
    const int step = x[i] > 0 ? 1 : -1;
    auto movable = [&](int k) { return k >= 0 && k < L.count && k + step >= 0 && k + step < L.count; };
    auto change_at = [&](int k) { return 0.5f * (L.value(k) + L.value(k + step)) * inv; };  // where k becomes k + step
    // The starting level must agree with the change positions, which round
    // differently from s_lo * x (a weight at a midpoint at s_lo would lag a level).
    while (movable(level[i]) && change_at(level[i]) <= s_lo) level[i] += step;
    while (movable(level[i] - step) && change_at(level[i] - step) > s_lo) level[i] -= step;
    for (int k = level[i]; movable(k) && count < int(kCap); k += step) {
      const float s = change_at(k);
      if (s > s_hi) break;
      ev[count++] = {s, i};
    }
  }
  sort_events(ev, count, s_lo, s_hi);
  return count;
}

// The scale position between event k and the next (or just past the last).
template <size_t kCap>
constexpr float between(const level_event (&ev)[kCap], int count, int k, float s_lo, float s_hi) {
  const float a = k < 0 ? s_lo : ev[k].s;
  const float b = k + 1 < count ? ev[k + 1].s : s_hi;
  return 0.5f * (a + b);
}

// Symmetric: y = d * v[level]; maximises (sum w x v)^2 / (sum w v^2), which is the
// error reduction of the least-squares d for each assignment.
template <int kN, size_t kCap>
constexpr walk_result walk_symmetric(const float* x, const float* w, int n, const level_set& L, float s_lo,
                                     float s_hi) {
  int level[kN];
  level_event ev[kCap];
  const int count = collect_events(x, n, L, s_lo, s_hi, level, ev);
  float sxv = 0, svv = 0;
  for (int i = 0; i < n; ++i) sxv += w[i] * x[i] * L.value(level[i]), svv += w[i] * L.value(level[i]) * L.value(level[i]);
  walk_result r;
  for (int k = -1; k < count; ++k) {
    if (k >= 0) {
      const int i = ev[k].i;
      const float before = L.value(level[i]);
      level[i] += x[i] > 0 ? 1 : -1;
      const float after = L.value(level[i]);
      sxv += w[i] * x[i] * (after - before);
      svv += w[i] * (after * after - before * before);
    }
    // Ties go to the larger inverse scale: the finer of two equally good fits
    // leaves the super-block scale of a k-quant more resolution for the others.
    if (svv > 0 && sxv * sxv >= r.gain * svv) r = {between(ev, count, k, s_lo, s_hi), sxv / svv, 0.f, sxv * sxv / svv, true};
  }
  return r;
}

// Affine on levels 0..nmax: y = d * q + m, codes from rounding (x - lo) * s with lo
// the group's minimum; maximises the error reduction of the two-parameter
// least-squares (d, m) of each assignment. With `m_nonpositive` (the k-quants store
// -m as an unsigned min) an assignment whose best m is positive is scored with
// m = 0.
template <int kN, size_t kCap>
constexpr walk_result walk_affine(const float* x, const float* w, int n, int nmax, float lo, float s_lo, float s_hi,
                                  bool m_nonpositive) {
  float xs[kN];
  for (int i = 0; i < n; ++i) xs[i] = x[i] - lo;
  const level_set L = level_set::integers(0, nmax);
  int level[kN];
  level_event ev[kCap];
  const int count = collect_events(xs, n, L, s_lo, s_hi, level, ev);
  float sw = 0, sx = 0, sq = 0, sqq = 0, sxq = 0;
  for (int i = 0; i < n; ++i) {
    const float q = float(level[i]);
    sw += w[i], sx += w[i] * x[i], sq += w[i] * q, sqq += w[i] * q * q, sxq += w[i] * x[i] * q;
  }
  walk_result r;
  const float sx2 = sw > 0 ? sx * sx / sw : 0.f;  // what the offset alone removes
  for (int k = -1; k < count; ++k) {
    if (k >= 0) {
      const int i = ev[k].i;  // xs[i] > 0 here: levels only rise
      const float q = float(level[i]);
      ++level[i];
      sq += w[i], sqq += w[i] * (2 * q + 1), sxq += w[i] * x[i];
    }
    const float det = sw * sqq - sq * sq;
    if (!(det > 0)) continue;
    float d = (sw * sxq - sx * sq) / det, m = (sqq * sx - sq * sxq) / det, gain = 0;
    if (m_nonpositive && m > 0) {
      if (!(sqq > 0)) continue;
      m = 0, d = sxq / sqq, gain = sxq * d;
    } else {
      gain = sx2 + (sw * sxq - sx * sq) * (sw * sxq - sx * sq) / (sw * det);
    }
    if (!(d > 0)) continue;
    if (!r.found || gain >= r.gain) r = {between(ev, count, k, s_lo, s_hi), d, m, gain, true};
  }
  return r;
}

}  // namespace qnt::fit

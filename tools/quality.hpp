// The quantizer quality table, shared by qnt-bench (which prints it) and the tests
// (which hold the quantizers to it): relative RMS error of qnt's quantizers on
// synthetic weights of four distributions, beside the figures of GGUF's reference
// quantizers (llama.cpp's ggml, 2026-08, measured on 64 x 4096 weights of the same
// distributions, scale 0.02), with and without its importance-weighted search run
// on uniform importance.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "synthetic.hpp"

namespace qnt_quality {

using qnt_synthetic::dist;
inline constexpr std::string_view kDistNames[] = {"Gaussian", "Laplace", "Student-t3", "outliers"};

// The tensor the table is measured on: 64 rows of 4096, standard deviation 0.02.
inline constexpr size_t kRows = 64, kCols = 4096;

// The table's weights of distribution d (standard deviation 0.02).
inline std::vector<float> synthetic(dist d) { return qnt_synthetic::weights(d, kRows * kCols, 2026 + uint64_t(d)); }

// A reference figure: GGUF's quantizer as shipped, and its importance-weighted
// search with uniform importance.
struct reference {
  std::string_view format;
  dist d;
  double plain, uniform_importance;
};

inline constexpr reference kReference[] = {
    {"q4_0", dist::gaussian, 0.08637, 0.08200},   {"q8_0", dist::gaussian, 0.00537, 0.00537},
    {"q2_K", dist::gaussian, 0.29590, 0.26794},   {"q3_K", dist::gaussian, 0.15123, 0.14479},
    {"q4_K", dist::gaussian, 0.07147, 0.07088},   {"q5_K", dist::gaussian, 0.03617, 0.03547},
    {"q6_K", dist::gaussian, 0.01783, 0.01739},   {"iq4_xs", dist::gaussian, 0.07673, 0.07560},
    {"q4_0", dist::laplace, 0.10683, 0.10330},    {"q2_K", dist::laplace, 0.34423, 0.30002},
    {"q3_K", dist::laplace, 0.17580, 0.16946},    {"q4_K", dist::laplace, 0.08457, 0.08385},
    {"q5_K", dist::laplace, 0.04272, 0.04199},    {"q6_K", dist::laplace, 0.02167, 0.02119},
    {"iq4_xs", dist::laplace, 0.08861, 0.08719},
};

// The goal for a reference figure: 3% below GGUF's quantizer (5% for q4_0, q5_0 and
// q8_0, whose reference rounds from the block maximum), and for the k-quants also
// below its importance-weighted search.
inline double goal(const reference& r) {
  const bool simple = r.format == "q4_0" || r.format == "q5_0" || r.format == "q8_0";
  const bool kquant = r.format.size() == 4 && r.format[3] == 'K';
  const double g = r.plain * (simple ? 0.95 : 0.97);
  return kquant && r.uniform_importance < g ? r.uniform_importance : g;
}

inline const reference* find_reference(std::string_view format, dist d) {
  for (const auto& r : kReference)
    if (r.format == format && r.d == d) return &r;
  return nullptr;
}

inline double rel_rmse(const float* x, const float* y, size_t n) {
  double e = 0, s = 0;
  for (size_t i = 0; i < n; ++i) e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]), s += double(x[i]) * x[i];
  return s > 0 ? std::sqrt(e / s) : 0.0;
}

}  // namespace qnt_quality

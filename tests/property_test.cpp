// Properties every format must have, on several weight distributions: bounded
// round-trip error, exact round trips of values on the format's grid, zeros.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "test_formats.hpp"
#include "test_util.hpp"

namespace {

using qnt_test::dist;

// Largest relative RMS error accepted on 8192 weights of any of the four
// distributions: about 1.15x the worst measured (the heavy-tailed ones), so a
// regression of the quantizer fails here.
const std::map<std::string, double> error_bound = {
    {"q4_0", 0.14},          {"q4_1", 0.1},        {"q5_0", 0.08},        {"q5_1", 0.05},
    {"q8_0", 0.01},         {"q8_1", 0.01},       {"q2_K", 0.38},         {"q3_K", 0.21},
    {"q4_K", 0.11},          {"q5_K", 0.053},        {"q6_K", 0.03},        {"q8_K", 0.026},
    {"iq4_nl", 0.11},         {"iq4_xs", 0.12},       {"mxfp4", 0.16},        {"nf4", 0.15},
    {"sym8_g128_bf16", 0.019}, {"sym4_g64_f32", 0.18}, {"sym5_g8_f16", 0.043}, {"sym4_g256_bf16", 0.32},
    {"aff4_g128_bf16", 0.18}, {"aff8_g16_f16", 0.0043}, {"aff5_g64_f32", 0.066}, {"aff8_g256_f32", 0.015},
    {"nf4_g128_f16", 0.19},   {"nf4_g32_bf16", 0.11},   {"nf4_g16_f32", 0.092},
};

template <class F>
std::vector<float> roundtrip(const std::vector<float>& x, qnt::status* st = nullptr, const float* imp = nullptr) {
  std::vector<typename F::block> b(x.size() / F::block_size);
  const qnt::status s = qnt::quantize<F>(x.data(), b.data(), x.size(), imp);
  if (st) *st = s;
  std::vector<float> y(x.size());
  qnt::dequantize<F>(b.data(), y.data(), x.size());
  return y;
}

}  // namespace

TEST_CASE("properties: round-trip error is bounded on Gaussian, Laplace, Student-t and outlier weights") {
  qnt_test::for_each_format([]<class F>() {
    const std::string name(F::name);
    CAPTURE(name);
    REQUIRE(error_bound.count(name) == 1);
    for (const dist d : qnt_test::all_dists) {
      CAPTURE(std::string(qnt_test::dist_name(d)));
      const auto x = qnt_test::weights(d, 8192, 1234 + int(d));
      qnt::status st{};
      const auto y = roundtrip<F>(x, &st);
      CHECK(st == qnt::status::ok);
      const double err = qnt_test::rel_rmse(x.data(), y.data(), x.size());
      MESSAGE(name, " ", std::string(qnt_test::dist_name(d)), " rel-RMSE ", err);
      CHECK(err <= error_bound.at(name));
    }
  });
}

TEST_CASE("properties: the error does not depend on the weights' magnitude") {
  // Searches run on power-of-two normalized blocks: scaling the weights by 2^k
  // scales the decoded values by 2^k exactly, as long as every stored f16 scale
  // stays a normal number (weights of unit variance, k from -3 to 4).
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    const auto x = qnt_test::weights(dist::laplace, 2 * F::block_size, 77, 1.f);
    const auto y = roundtrip<F>(x);
    for (const float k : {0x1p-3f, 0x1p4f}) {
      std::vector<float> xs(x);
      for (auto& v : xs) v *= k;
      const auto ys = roundtrip<F>(xs);
      int differ = 0;
      for (size_t i = 0; i < x.size(); ++i) differ += !qnt_test::same_bits(ys[i], y[i] * k);
      CHECK(differ == 0);
    }
  });
}

TEST_CASE("properties: all-zero blocks decode to zeros, never NaN") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    const std::vector<float> x(3 * F::block_size, 0.f);
    qnt::status st{};
    const auto y = roundtrip<F>(x, &st);
    CHECK(st == qnt::status::ok);
    for (const float v : y) CHECK(v == 0.f);  // +0 or -0
  });
}

TEST_CASE("properties: a single spike keeps its value to the precision of the stored scale") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    std::vector<float> x(F::block_size, 0.f);
    x[5] = -0.375f;
    const auto y = roundtrip<F>(x);
    CHECK(std::fabs(y[5] - x[5]) <= 0.375f * 0x1p-8f);  // bf16 scales: 8 significant bits
    for (size_t i = 0; i < x.size(); ++i)
      if (i != 5) CHECK(std::fabs(y[i]) <= 0.375f * 0.01f);  // table formats have no exact zero
  });
}

namespace {

// Blocks whose values lie exactly on the format's grid, built by writing codes and
// scales directly: the values a quantizer would produce for such data. Quantizing
// them again must reproduce every value bit for bit. Scales have short mantissas
// so that every product is exact; each block holds its format's extreme code, and
// the two-level formats use one sub-block scale throughout.
template <class F>
struct grid;

inline float short_scale(qnt_test::rng& r) { return std::ldexp(float(1024 + r.below(1024)) / 1024.f, -8 - r.below(4)); }

template <unsigned B, size_t G, class S>
struct grid<qnt::symmetric<B, G, S>> {
  using F = qnt::symmetric<B, G, S>;
  static void make(qnt_test::rng& r, typename F::block& b) {
    b.d.set(short_scale(r));
    int q[G];
    for (auto& v : q) v = F::qmin + r.below(F::qmax - F::qmin + 1);
    q[r.below(int(G))] = F::qmin;
    if constexpr (B == 8) {
      for (size_t i = 0; i < G; ++i) b.qs[i] = int8_t(q[i]);
    } else {
      for (auto& v : q) v -= F::qmin;
      if constexpr (B == 5) F::planes::set_all(b.qh, b.qs, q);
      else F::planes::set_all(nullptr, b.qs, q);
    }
  }
};

template <unsigned B, size_t G, class S>
struct grid<qnt::affine<B, G, S>> {
  using F = qnt::affine<B, G, S>;
  static void make(qnt_test::rng& r, typename F::block& b) {
    const float d = short_scale(r);
    b.d.set(d);
    b.m.set(-d * float(r.below(200)));  // a multiple of d: every value is exact
    int q[G];
    for (auto& v : q) v = r.below(F::nmax + 1);
    q[0] = 0, q[G - 1] = F::nmax;
    if constexpr (B == 5) F::planes::set_all(b.qh, b.qs, q);
    else F::planes::set_all(nullptr, b.qs, q);
  }
};

template <size_t Block, class S>
struct grid<qnt::basic_nf4<Block, S>> {
  static void make(qnt_test::rng& r, typename qnt::basic_nf4<Block, S>::block& b) {
    b.absmax.set(short_scale(r));
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    b.qs[r.below(int(Block / 2))] = 0xF3;  // code 15 = +1.0
  }
};

template <>
struct grid<qnt::q8_1> {
  static void make(qnt_test::rng& r, qnt::q8_1::block& b) {
    b.d.set(short_scale(r));
    b.s.set(0.f);
    for (auto& v : b.qs) v = int8_t(r.below(255) - 127);
    b.qs[3] = -127;
  }
};

template <>
struct grid<qnt::iq4_nl> {
  static void make(qnt_test::rng& r, qnt::iq4_nl::block& b) {
    b.d.set(short_scale(r) / 64);
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    b.qs[2] = uint8_t(b.qs[2] & 0xF0);  // index 0 = -127, the table's end
  }
};

template <>
struct grid<qnt::mxfp4> {
  static void make(qnt_test::rng& r, qnt::mxfp4::block& b) {
    b.e = uint8_t(100 + r.below(50));
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    b.qs[9] = uint8_t((b.qs[9] & 0xF0) | 15);  // -12: the largest magnitude
  }
};

template <>
struct grid<qnt::q8_k> {
  static void make(qnt_test::rng& r, qnt::q8_k::block& b) {
    b.d.set(std::ldexp(1.f, -10 - r.below(5)));
    for (auto& v : b.qs) v = int8_t(r.below(255) - 127);
    b.qs[100] = 127;
  }
};

template <>
struct grid<qnt::q2_k> {
  static void make(qnt_test::rng& r, qnt::q2_k::block& b) {
    const float d = short_scale(r);
    b.d.set(d), b.dmin.set(d);
    for (auto& s : b.scales) s = 0xFF;  // scale 15, min 15
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    // Every code in every sub-block of 16 (with fewer codes, other scales fit too).
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; l += 16) {
        b.qs[32 * h + l] = 0b10'01'00'11, b.qs[32 * h + l + 1] = 0b01'10'11'00;
        b.qs[32 * h + l + 2] = 0b00'11'10'01, b.qs[32 * h + l + 3] = 0b11'00'01'10;
      }
  }
};

template <class F>
void make_k_affine(qnt_test::rng& r, typename F::block& b, int nmax) {
  const float d = short_scale(r);
  b.d.set(d), b.dmin.set(d);
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) sc[j] = 63, mn[j] = 63;
  qnt::kq::pack_scale_min(sc, mn, b.scales);
  for (auto& v : b.qs) v = uint8_t(r.below(256));
  // The first weight of every sub-block of 32 takes the largest code, the second 0.
  for (int c = 0; c < 4; ++c) b.qs[32 * c] = 0xFF, b.qs[32 * c + 1] = 0x00;
  if constexpr (requires { b.qh; }) {
    for (auto& v : b.qh) v = uint8_t(r.below(256));
    b.qh[0] = 0xFF, b.qh[1] = 0x00;
  }
  (void)nmax;
}

template <>
struct grid<qnt::q4_k> {
  static void make(qnt_test::rng& r, qnt::q4_k::block& b) { make_k_affine<qnt::q4_k>(r, b, 15); }
};
template <>
struct grid<qnt::q5_k> {
  static void make(qnt_test::rng& r, qnt::q5_k::block& b) { make_k_affine<qnt::q5_k>(r, b, 31); }
};

template <>
struct grid<qnt::q3_k> {
  static void make(qnt_test::rng& r, qnt::q3_k::block& b) {
    b.d.set(short_scale(r));
    for (auto& s : b.scales) s = 0;  // every scale -32
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    for (auto& v : b.hmask) v = uint8_t(r.below(256));
    // Code -4 (low bits 0, high bit clear) at the first weight of every sub-block
    // of 16, and no +4 exists: -4 is the largest magnitude.
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; l += 16) b.qs[32 * h + l] = 0, b.hmask[l] = 0;
  }
};

template <>
struct grid<qnt::q6_k> {
  static void make(qnt_test::rng& r, qnt::q6_k::block& b) {
    b.d.set(short_scale(r) / 64);
    for (auto& s : b.scales) s = -128;
    for (auto& v : b.ql) v = uint8_t(r.below(256));
    for (auto& v : b.qh) v = uint8_t(r.below(256));
    // Code -32 (all six bits zero) at the first weight of every sub-block of 16.
    for (int h = 0; h < 2; ++h)
      for (int l = 0; l < 32; l += 16) {
        b.ql[64 * h + l] = 0, b.ql[64 * h + 32 + l] = 0, b.qh[32 * h + l] = 0;
      }
  }
};

template <>
struct grid<qnt::iq4_xs> {
  static void make(qnt_test::rng& r, qnt::iq4_xs::block& b) {
    b.d.set(short_scale(r) / 64);
    b.scales_h.set(0);
    for (auto& s : b.scales_l) s = 0;  // every sub-block scale -32
    for (auto& v : b.qs) v = uint8_t(r.below(256));
    for (int s = 0; s < 8; ++s) b.qs[16 * s] = uint8_t(b.qs[16 * s] & 0xF0);  // index 0 = -127 in each
  }
};

}  // namespace

TEST_CASE("properties: values on the format's grid round-trip exactly") {
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    qnt_test::rng r(99);
    constexpr int blocks = 16;
    std::vector<typename F::block> b(blocks);
    for (auto& blk : b) grid<F>::make(r, blk);
    const size_t n = blocks * F::block_size;
    std::vector<float> x(n);
    REQUIRE(qnt::dequantize<F>(b.data(), x.data(), n) == qnt::status::ok);
    const auto y = roundtrip<F>(x);
    int differ = 0;
    for (size_t i = 0; i < n; ++i) differ += !qnt_test::same_bits(x[i] + 0.f, y[i] + 0.f);  // +0.f: -0 == +0
    CHECK(differ == 0);
  });
}

TEST_CASE("properties: importance lowers the importance-weighted error") {
  // Importance varies across columns (as an imatrix does): every 4th column 50x.
  qnt_test::for_each_format([]<class F>() {
    CAPTURE(std::string(F::name));
    const size_t n = 32 * F::block_size;
    const auto x = qnt_test::weights(dist::gaussian, n, 4242);
    std::vector<float> imp(n);
    for (size_t i = 0; i < n; ++i) imp[i] = i % 4 == 0 ? 50.f : 1.f;
    const auto plain = roundtrip<F>(x);
    qnt::status st{};
    const auto weighted = roundtrip<F>(x, &st, imp.data());
    CHECK(st == qnt::status::ok);
    double e_plain = 0, e_weighted = 0;
    for (size_t i = 0; i < n; ++i) {
      e_plain += imp[i] * (x[i] - plain[i]) * (x[i] - plain[i]);
      e_weighted += imp[i] * (x[i] - weighted[i]) * (x[i] - weighted[i]);
    }
    MESSAGE(F::name, ": importance-weighted error ", e_weighted / e_plain, " of the plain quantizer's");
    if constexpr (qnt_test::is_activation_type<F>) CHECK(e_weighted == e_plain);  // activation types ignore it
    else CHECK(e_weighted < e_plain);
  });
}

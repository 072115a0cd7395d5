// NF4 against bitsandbytes' definition: its planar layout converts to qnt's blocks
// and back without loss, and decodes to NF4[code] * absmax.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "test_util.hpp"
#include <qnt/nf4.hpp>

namespace {

// bitsandbytes' own dequantization of its planar layout, written from its definition.
std::vector<float> planar_dequantize(const std::vector<uint8_t>& codes, const std::vector<float>& absmax, size_t n,
                                     size_t block) {
  std::vector<float> y(n);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t byte = codes[i / 2];
    const unsigned q = i % 2 == 0 ? byte >> 4 : byte & 15u;
    y[i] = qnt::detail::nf4_values[q] * absmax[i / block];
  }
  return y;
}

// bitsandbytes' quantizer: absmax scale, code = number of midpoints strictly below x / absmax.
void planar_quantize(const std::vector<float>& x, size_t block, std::vector<uint8_t>& codes, std::vector<float>& absmax) {
  static constexpr float mid[15] = {-0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f,
                                    -0.33967943489551544f, -0.23460740596055984f, -0.13791173323988914f,
                                    -0.045525018125772476f, 0.03979014977812767f, 0.1202552504837513f,
                                    0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
                                    0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f};
  const size_t n = x.size();
  absmax.assign((n + block - 1) / block, 0.f);
  codes.assign((n + 1) / 2, 0);
  for (size_t i = 0; i < n; ++i) absmax[i / block] = std::max(absmax[i / block], std::fabs(x[i]));
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i] * (1.f / absmax[i / block]);
    unsigned q = 0;
    for (const float t : mid) q += v > t;
    codes[i / 2] = uint8_t(codes[i / 2] | (i % 2 == 0 ? q << 4 : q));
  }
}

template <class F>
void check_planar(size_t n) {
  CAPTURE(n);
  const auto x = qnt_test::weights(qnt_test::dist::gaussian, n, 11 + n);
  std::vector<uint8_t> codes;
  std::vector<float> absmax;
  planar_quantize(x, F::block_size, codes, absmax);
  const auto expect = planar_dequantize(codes, absmax, n, F::block_size);

  std::vector<typename F::block> blocks(qnt::nf4_blocks_for<F>(n));
  REQUIRE(qnt::nf4_from_planar<F>(codes.data(), absmax.data(), n, blocks.data()) == qnt::status::ok);
  std::vector<float> y(blocks.size() * F::block_size);
  REQUIRE(qnt::dequantize<F>(blocks.data(), y.data(), y.size()) == qnt::status::ok);
  for (size_t i = 0; i < n; ++i) CHECK(qnt_test::same_bits(y[i], expect[i]));
  for (size_t i = n; i < y.size(); ++i) CHECK(y[i] == 0.f);  // padding decodes to zero

  std::vector<uint8_t> codes2(codes.size(), 0xEE);
  std::vector<float> absmax2(absmax.size(), -1.f);
  REQUIRE(qnt::nf4_to_planar<F>(blocks.data(), n, codes2.data(), absmax2.data()) == qnt::status::ok);
  CHECK(codes2 == codes);
  CHECK(absmax2 == absmax);
}

}  // namespace

TEST_CASE("nf4: bitsandbytes' planar layout converts losslessly, full and partial blocks, odd n") {
  for (const size_t n : {size_t(64), size_t(4096), size_t(100), size_t(129), size_t(1)}) check_planar<qnt::nf4>(n);
  for (const size_t n : {size_t(256), size_t(300)}) check_planar<qnt::basic_nf4<128>>(n);
}

TEST_CASE("nf4: qnt's quantizer is no worse than bitsandbytes' absmax rounding") {
  const size_t n = 64 * 256;
  for (const auto d : qnt_test::all_dists) {
    CAPTURE(qnt_test::dist_name(d));
    const auto x = qnt_test::weights(d, n, 21);
    std::vector<uint8_t> codes;
    std::vector<float> absmax;
    planar_quantize(x, 64, codes, absmax);
    const auto ref = planar_dequantize(codes, absmax, n, 64);
    std::vector<qnt::nf4::block> b(n / 64);
    REQUIRE(qnt::quantize<qnt::nf4>(x.data(), b.data(), n) == qnt::status::ok);
    std::vector<float> y(n);
    qnt::dequantize<qnt::nf4>(b.data(), y.data(), n);
    const double ours = qnt_test::rel_rmse(x.data(), y.data(), n), theirs = qnt_test::rel_rmse(x.data(), ref.data(), n);
    MESSAGE(qnt_test::dist_name(d), ": nf4 rel-RMSE ", ours, " (bitsandbytes absmax rounding ", theirs, ")");
    CHECK(ours < theirs);
    for (const auto& blk : b) CHECK(blk.absmax.get() >= 0.f);  // scales stay valid for bitsandbytes
  }
}

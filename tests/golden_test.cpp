// Conformance with GGUF's reference implementation, on the golden vectors in
// tests/data: bit-exact dequantization, quantizer error no worse than the reference
// quantizer's, and the activation types' exact bytes.
#include <doctest/doctest.h>

#include <cstring>
#include <qnt/qnt.hpp>
#include <string>
#include <vector>

#include "test_util.hpp"

namespace {

using qnt_test::golden;

template <class F>
std::vector<typename F::block> blocks_of(const std::vector<uint8_t>& bytes) {
  std::vector<typename F::block> b(bytes.size() / sizeof(typename F::block));
  std::memcpy(b.data(), bytes.data(), b.size() * sizeof(typename F::block));
  return b;
}

template <class F>
void check_golden(int& files) {
  golden g;
  if (!qnt_test::load_golden(std::string(F::name), g)) return;  // q8_1 and nf4 have none
  ++files;
  CAPTURE(g.type);
  REQUIRE(g.type == F::name);
  REQUIRE(g.block_size == F::block_size);
  REQUIRE(g.row_bytes == g.cols / F::block_size * sizeof(typename F::block));
  const size_t n = size_t(g.rows) * g.cols;
  const auto blocks = blocks_of<F>(g.blocks);

  std::vector<float> y(n, -12345.f);
  REQUIRE(qnt::dequantize<F>(blocks.data(), y.data(), n) == qnt::status::ok);
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) differ += !qnt_test::same_bits(y[i], g.dequant[i]);
  CHECK_MESSAGE(differ == 0, differ, " of ", n, " dequantized values differ in their bits");

  // Both searches: no worse than the reference on the whole, nor much worse on any row.
  for (const auto how : {qnt::effort::fast, qnt::effort::thorough}) {
    const std::string effort_name = how == qnt::effort::fast ? "fast" : "thorough";
    CAPTURE(effort_name);
    std::vector<typename F::block> q(n / F::block_size);
    REQUIRE(qnt::quantize<F>(g.input.data(), q.data(), n, nullptr, how) == qnt::status::ok);
    std::vector<float> back(n);
    qnt::dequantize<F>(q.data(), back.data(), n);
    const double err = qnt_test::rel_rmse(g.input.data(), back.data(), n);
    MESSAGE(g.type, " ", effort_name, ": rel-RMSE ", err, " (reference ", g.ref_rel_rmse, ")");
    CHECK(err <= g.ref_rel_rmse * 1.0001);

    // Each row on its own: no row may be much worse than the reference's (the whole
    // matrix hides the edge-case rows).
    for (size_t r = 0; r < g.rows; ++r) {
      const float* in = g.input.data() + r * g.cols;
      const double ours = qnt_test::rel_rmse(in, back.data() + r * g.cols, g.cols);
      const double ref = qnt_test::rel_rmse(in, g.dequant.data() + r * g.cols, g.cols);
      CAPTURE(r);
      CHECK(ours <= ref * 1.02 + 1e-7);
    }
  }
}

template <class F>
void check_activation_bytes(const golden& g) {
  REQUIRE(g.act_bytes == g.cols / F::block_size * sizeof(typename F::block));
  std::vector<typename F::block> a(g.cols / F::block_size);
  REQUIRE(qnt::quantize<F>(g.activation.data(), a.data(), g.cols) == qnt::status::ok);
  CHECK(std::memcmp(a.data(), g.act_blocks.data(), g.act_bytes) == 0);
}

}  // namespace

TEST_CASE("golden: every GGUF weight type dequantizes bit-exactly and quantizes no worse than the reference") {
  int files = 0;
  qnt::all_formats::for_each([&]<class F>() { check_golden<F>(files); });
  CHECK(files == 14);
}

TEST_CASE("golden: activation quantizers reproduce GGUF's bytes (q8_1, q8_K)") {
  int checked = 0;
  for (const char* type : {"q4_1", "q5_1", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_xs"}) {
    golden g;
    REQUIRE(qnt_test::load_golden(type, g));
    CAPTURE(type);
    if (g.act_type == "q8_1") check_activation_bytes<qnt::q8_1>(g), ++checked;
    else if (g.act_type == "q8_K") check_activation_bytes<qnt::q8_k>(g), ++checked;
  }
  CHECK(checked == 8);
  // q8_K's own file quantizes its input with the activation quantizer.
  golden g;
  REQUIRE(qnt_test::load_golden("q8_K", g));
  std::vector<qnt::q8_k::block> b(g.blocks.size() / sizeof(qnt::q8_k::block));
  REQUIRE(qnt::quantize<qnt::q8_k>(g.input.data(), b.data(), g.input.size()) == qnt::status::ok);
  CHECK(std::memcmp(b.data(), g.blocks.data(), g.blocks.size()) == 0);
}

TEST_CASE("golden: the scalar fused dot of the dequantized rows matches GGUF's fused dot") {
  // Σ deq(W)·deq(A) in double against the golden dot (ggml's integer-sum kernels):
  // agreement to float rounding shows that the layouts of both operands are right.
  for (const char* type : {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl",
                           "iq4_xs", "mxfp4"}) {
    golden g;
    REQUIRE(qnt_test::load_golden(type, g));
    CAPTURE(type);
    std::vector<float> act(g.cols);
    if (g.act_type == "q8_0") {
      auto a = blocks_of<qnt::q8_0>(g.act_blocks);
      qnt::dequantize<qnt::q8_0>(a.data(), act.data(), g.cols);
    } else if (g.act_type == "q8_1") {
      auto a = blocks_of<qnt::q8_1>(g.act_blocks);
      qnt::dequantize<qnt::q8_1>(a.data(), act.data(), g.cols);
    } else {
      REQUIRE(g.act_type == "q8_K");
      auto a = blocks_of<qnt::q8_k>(g.act_blocks);
      qnt::dequantize<qnt::q8_k>(a.data(), act.data(), g.cols);
    }
    for (size_t r = 0; r < g.rows; ++r) {
      double dot = 0, mag = 0;
      for (size_t c = 0; c < g.cols; ++c) {
        const double p = double(g.dequant[r * g.cols + c]) * act[c];
        dot += p, mag += std::fabs(p);
      }
      CAPTURE(r);
      // q4_1 / q5_1 carry the activation sum in q8_1's f16 `s`, which rounds.
      const double tol = (g.act_type == "q8_1" ? 2e-3 : 1e-5) * mag + 1e-30;
      CHECK(std::fabs(dot - g.dot[r]) <= tol);
    }
  }
}

// The format list and each format's published facts: names, GGUF type ids, block
// sizes and bytes (bits per weight), as the GGUF specification gives them.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <type_traits>

#include "test_formats.hpp"

namespace {

struct facts {
  int gguf_type;
  size_t block_size, bytes;
};
const std::map<std::string, facts> published = {
    {"q4_0", {2, 32, 18}},    {"q4_1", {3, 32, 20}},     {"q5_0", {6, 32, 22}},   {"q5_1", {7, 32, 24}},
    {"q8_0", {8, 32, 34}},    {"q8_1", {9, 32, 36}},     {"q2_K", {10, 256, 84}}, {"q3_K", {11, 256, 110}},
    {"q4_K", {12, 256, 144}}, {"q5_K", {13, 256, 176}},  {"q6_K", {14, 256, 210}}, {"q8_K", {15, 256, 292}},
    {"iq4_nl", {20, 32, 18}}, {"iq4_xs", {23, 256, 136}}, {"mxfp4", {39, 32, 17}},  {"nf4", {-1, 64, 36}},
};

}  // namespace

TEST_CASE("format list: every named format has GGUF's name, type id, block size and bytes") {
  int count = 0;
  qnt::all_formats::for_each([&]<class F>() {
    const std::string name(F::name);
    CAPTURE(name);
    REQUIRE(published.count(name) == 1);
    const facts f = published.at(name);
    CHECK(F::gguf_type == f.gguf_type);
    CHECK(F::block_size == f.block_size);
    CHECK(sizeof(typename F::block) == f.bytes);
    CHECK(alignof(typename F::block) == 1);  // GGUF rows are not aligned
    CHECK(std::is_trivially_copyable_v<typename F::block>);
    CHECK(qnt::name_of(qnt::format_id(count)) == F::name);
    ++count;
  });
  CHECK(count == int(published.size()));
  CHECK(qnt::bits_per_weight<qnt::q4_k> == 4.5);
  CHECK(qnt::bits_per_weight<qnt::q6_k> == 6.5625);
}

TEST_CASE("format list: GGUF legacy formats are instances of the generic ones") {
  CHECK(std::is_same_v<qnt::q4_0, qnt::symmetric<4, 32, qnt::f16>>);
  CHECK(std::is_same_v<qnt::q8_0, qnt::symmetric<8, 32, qnt::f16>>);
  CHECK(std::is_same_v<qnt::q5_1, qnt::affine<5, 32, qnt::f16>>);
  CHECK(qnt::symmetric<8, 128, qnt::bf16>::name == "sym8_g128_bf16");
  CHECK(qnt::affine<4, 64, qnt::f32>::name == "aff4_g64_f32");
  CHECK(qnt::basic_nf4<128, qnt::f16>::name == "nf4_g128_f16");
  CHECK(sizeof(qnt::symmetric<4, 64, qnt::f32>::block) == 4 + 32);
  CHECK(sizeof(qnt::affine<8, 16, qnt::bf16>::block) == 2 + 2 + 16);
  CHECK(sizeof(qnt::symmetric<5, 16, qnt::f16>::block) == 2 + 2 + 8);
}

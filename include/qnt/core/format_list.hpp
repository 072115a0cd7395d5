// The one list of named formats. The enum of names, the type list that tests and
// benchmarks iterate, and (with the kernels) the dispatch tables all derive from
// it: adding a format means its own header plus one line here.
#pragma once

#include <cstddef>
#include <string_view>

// X(tag): every named format, GGUF types first, in GGUF type-id order.
#define QNT_FOR_EACH_FORMAT(X) \
  X(q4_0)                      \
  X(q4_1)                      \
  X(q5_0)                      \
  X(q5_1)                      \
  X(q8_0)                      \
  X(q8_1)                      \
  X(q2_k)                      \
  X(q3_k)                      \
  X(q4_k)                      \
  X(q5_k)                      \
  X(q6_k)                      \
  X(q8_k)                      \
  X(iq4_nl)                    \
  X(iq4_xs)                    \
  X(mxfp4)                     \
  X(nf4)

namespace qnt {

enum class format_id : int {
#define QNT_ENUM_ENTRY(tag) tag,
  QNT_FOR_EACH_FORMAT(QNT_ENUM_ENTRY)
#undef QNT_ENUM_ENTRY
};

template <class... F>
struct format_list {
  static constexpr size_t size = sizeof...(F);
  // Calls fn.template operator()<F>() for each format in order.
  template <class Fn>
  static constexpr void for_each(Fn&& fn) {
    (fn.template operator()<F>(), ...);
  }
};

}  // namespace qnt

// qnt: quantized-weight block formats. This header brings every format; include
// <qnt/FORMAT.hpp> for just one.
#pragma once

#include "core/format_list.hpp"
#include "generic.hpp"
#include "iq4_nl.hpp"
#include "iq4_xs.hpp"
#include "mxfp4.hpp"
#include "nf4.hpp"
#include "q2_k.hpp"
#include "q3_k.hpp"
#include "q4_0.hpp"
#include "q4_1.hpp"
#include "q4_k.hpp"
#include "q5_0.hpp"
#include "q5_1.hpp"
#include "q5_k.hpp"
#include "q6_k.hpp"
#include "q8_0.hpp"
#include "q8_1.hpp"
#include "q8_k.hpp"

namespace qnt {

// Every named format, in the order of QNT_FOR_EACH_FORMAT.
#define QNT_LIST_ENTRY(tag) , tag
template <class Ignored, class... F>
struct drop_first_ {
  using type = format_list<F...>;
};
using all_formats = drop_first_<void QNT_FOR_EACH_FORMAT(QNT_LIST_ENTRY)>::type;
#undef QNT_LIST_ENTRY

// Name of a format known by id (for tables, command lines, file readers).
constexpr std::string_view name_of(format_id id) {
  switch (id) {
#define QNT_NAME_CASE(tag) \
  case format_id::tag:     \
    return tag::name;
    QNT_FOR_EACH_FORMAT(QNT_NAME_CASE)
#undef QNT_NAME_CASE
  }
  return {};
}

}  // namespace qnt

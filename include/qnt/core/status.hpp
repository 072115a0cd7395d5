// How qnt reports bad input without exceptions.
#pragma once

namespace qnt {

// Every entry point returns one of these. Argument errors (the first three) are
// detected before anything is written: the output is left untouched. Data
// conditions (the last two) still produce a complete, well-defined output, encoded
// by the documented clamp, and the status tells the caller that it happened.
enum class status : int {
  ok = 0,
  invalid_size,        // n is not a multiple of the format's block size (or rows/cols mismatch)
  null_pointer,        // a required pointer is null while n > 0
  invalid_importance,  // an importance weight is negative, NaN or infinite
  scale_clamped,       // a block's scale exceeded the scale type's range and was clamped to its largest finite value
  non_finite_input,    // NaN weights were encoded as 0, +-Inf as +-FLT_MAX (so their blocks also clamp)
};

constexpr const char* to_string(status s) {
  switch (s) {
    case status::ok: return "ok";
    case status::invalid_size: return "invalid_size";
    case status::null_pointer: return "null_pointer";
    case status::invalid_importance: return "invalid_importance";
    case status::scale_clamped: return "scale_clamped";
    case status::non_finite_input: return "non_finite_input";
  }
  return "unknown";
}

// Keeps the most severe of two data conditions (argument errors never get here).
constexpr status worst(status a, status b) { return int(b) > int(a) ? b : a; }

}  // namespace qnt

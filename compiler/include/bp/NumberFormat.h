//===- NumberFormat.h - Printing doubles the way Python's repr does -*- C++ -*-===//
#ifndef BP_NUMBERFORMAT_H
#define BP_NUMBERFORMAT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <string>

namespace bp {

/// The shortest text that reads back as exactly `value`, laid out like Python's repr but without a
/// trailing ".0": 7, -6.0113999999999965, 0.1, 1e-05, 1e+16, nan, inf, -inf, -0.
std::string formatNumber(double value);

/// Parses a whole string as a double (decimal, optional sign and exponent, "inf"/"nan" accepted).
/// Fails on trailing characters, an empty string, or a finite literal too large for a double.
bool parseNumber(const std::string &text, double &value);

/// Why parseNumber rejects `text`, for messages: "'1e400' is too large to be represented as a double" or
/// "'five' is not a number".
std::string describeBadNumber(const std::string &text);

/// Tensors print as NumPy prints them, on one line: above this many elements an axis longer than twice
/// SummaryEdgeItems shows only its first and last SummaryEdgeItems entries around "...".
constexpr int64_t SummaryThreshold = 1000;
constexpr int64_t SummaryEdgeItems = 3;

/// A tensor (row-major `values` of `shape`) as a nested list on one line, each number as formatNumber writes it:
/// `[[0.5, -0.3], [0.1, 0.8]]`; a scalar (empty shape) as the number alone. With `summarize`, a tensor of more
/// than SummaryThreshold elements is summarized: `[0, 1, 2, ..., 1997, 1998, 1999]`.
std::string formatTensor(llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape, bool summarize = false);

} // namespace bp

#endif // BP_NUMBERFORMAT_H

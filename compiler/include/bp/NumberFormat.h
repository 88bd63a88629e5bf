//===- NumberFormat.h - Printing doubles the way Python's repr does -*- C++ -*-===//
#ifndef BP_NUMBERFORMAT_H
#define BP_NUMBERFORMAT_H

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

} // namespace bp

#endif // BP_NUMBERFORMAT_H

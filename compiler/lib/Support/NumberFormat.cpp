//===- NumberFormat.cpp - Shortest round-trip number printing -------------===//
//
// std::to_chars finds the shortest digits that round-trip; this file only lays them out as Python's repr
// does: positional notation for exponents in [-4, 16), scientific (at least two exponent digits) otherwise.
//
//===----------------------------------------------------------------------===//
#include "bp/NumberFormat.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

std::string bp::formatNumber(double value) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value < 0 ? "-inf" : "inf";
  if (value == 0)
    return std::signbit(value) ? "-0" : "0";

  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string scientific(buffer, result.ptr); // "-6.0113999999999965e+00"
  std::string sign;
  if (scientific[0] == '-') {
    sign = "-";
    scientific.erase(0, 1);
  }
  size_t e = scientific.find('e');
  int exponent = std::atoi(scientific.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (scientific[i] != '.')
      digits += scientific[i];

  if (exponent < -4 || exponent >= 16) {
    std::string mantissa = digits.substr(0, 1);
    if (digits.size() > 1)
      mantissa += "." + digits.substr(1);
    std::string exponentText = std::to_string(std::abs(exponent));
    if (exponentText.size() < 2)
      exponentText = "0" + exponentText;
    return sign + mantissa + (exponent < 0 ? "e-" : "e+") + exponentText;
  }
  if (exponent < 0)
    return sign + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
  size_t integerDigits = static_cast<size_t>(exponent) + 1;
  if (digits.size() <= integerDigits)
    return sign + digits + std::string(integerDigits - digits.size(), '0');
  return sign + digits.substr(0, integerDigits) + "." + digits.substr(integerDigits);
}

bool bp::parseNumber(const std::string &text, double &value) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0])))
    return false;
  const char *begin = text.c_str();
  char *end = nullptr;
  errno = 0;
  value = std::strtod(begin, &end);
  if (end != begin + text.size())
    return false;
  // Reject hexadecimal floats: users write decimal numbers.
  if (text.find_first_of("xX") != std::string::npos)
    return false;
  return !(errno == ERANGE && std::isinf(value));
}

std::string bp::describeBadNumber(const std::string &text) {
  const char *begin = text.c_str();
  char *end = nullptr;
  errno = 0;
  double value = std::strtod(begin, &end);
  bool whole = !text.empty() && end == begin + text.size() && text.find_first_of("xX") == std::string::npos;
  if (whole && errno == ERANGE && std::isinf(value))
    return "'" + text + "' is too large to be represented as a double";
  return "'" + text + "' is not a number";
}

namespace {

/// Writes the sub-tensor of `shape` starting at `offset` (the elements of one index prefix) into `text`.
void formatAxis(std::string &text, llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape, size_t offset,
                bool summarize) {
  int64_t length = shape[0];
  size_t stride = 1;
  for (int64_t dimension : shape.drop_front())
    stride *= static_cast<size_t>(dimension);
  bool elide = summarize && length > 2 * bp::SummaryEdgeItems;
  text += '[';
  for (int64_t i = 0; i < length; ++i) {
    if (elide && i == bp::SummaryEdgeItems) {
      text += ", ...";
      i = length - bp::SummaryEdgeItems - 1;
      continue;
    }
    if (i > 0)
      text += ", ";
    size_t at = offset + static_cast<size_t>(i) * stride;
    if (shape.size() == 1)
      text += bp::formatNumber(values[at]);
    else
      formatAxis(text, values, shape.drop_front(), at, summarize); // recursion depth: the rank, at most 4
  }
  text += ']';
}

} // namespace

std::string bp::formatTensor(llvm::ArrayRef<double> values, llvm::ArrayRef<int64_t> shape, bool summarize) {
  if (shape.empty())
    return formatNumber(values[0]);
  int64_t count = 1;
  for (int64_t dimension : shape)
    count *= dimension;
  std::string text;
  formatAxis(text, values, shape, 0, summarize && count > SummaryThreshold);
  return text;
}

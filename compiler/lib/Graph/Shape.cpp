//===- Shape.cpp - Static shapes and the shape rules of tensor ops --------===//
#include "bp/Shape.h"

#include <algorithm>
#include <cmath>

using namespace bp;

static llvm::Error shapeError(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

std::string bp::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

int64_t bp::elementCount(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dimension : shape)
    count *= dimension;
  return count;
}

llvm::Expected<Shape> bp::broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b, const char *verb) {
  size_t rank = std::max(a.size(), b.size());
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) { // i counts from the last dimension
    int64_t x = i < a.size() ? a[a.size() - 1 - i] : 1;
    int64_t y = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (x != y && x != 1 && y != 1)
      return shapeError(std::string("cannot ") + verb + " " + formatShape(a) + " and " + formatShape(b) +
                        ": dimensions " + std::to_string(x) + " and " + std::to_string(y) +
                        " differ and neither is 1");
    result[rank - 1 - i] = x == 1 ? y : x;
  }
  return result;
}

llvm::Expected<Shape> bp::matmulShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  for (llvm::ArrayRef<int64_t> operand : {a, b})
    if (operand.empty() || operand.size() > 2)
      return shapeError("cannot multiply " + formatShape(a) + " by " + formatShape(b) + ": '@' takes vectors and "
                        "matrices, not " + (operand.empty() ? std::string("scalars (use '*')")
                                                            : "tensors of rank " + std::to_string(operand.size())));
  int64_t inner = a.back(), otherInner = b[0]; // [k,n] and [k] both start with k
  if (inner != otherInner)
    return shapeError("cannot multiply " + formatShape(a) + " by " + formatShape(b) + ": inner dimensions " +
                      std::to_string(inner) + " and " + std::to_string(otherInner) + " differ");
  Shape result;
  if (a.size() == 2)
    result.push_back(a[0]);
  if (b.size() == 2)
    result.push_back(b[1]);
  return result;
}

llvm::Expected<size_t> bp::normalizeAxis(int64_t axis, llvm::ArrayRef<int64_t> shape) {
  int64_t rank = static_cast<int64_t>(shape.size());
  if (axis < -rank || axis >= rank)
    return shapeError("axis " + std::to_string(axis) + " is out of range for " + formatShape(shape) +
                      (rank == 0 ? ", a scalar" : " (axes 0 to " + std::to_string(rank - 1) + ", or -1 to -" +
                                                      std::to_string(rank) + " from the end)"));
  return static_cast<size_t>(axis < 0 ? axis + rank : axis);
}

llvm::Expected<Shape> bp::reductionShape(llvm::ArrayRef<int64_t> shape, std::optional<int64_t> axis) {
  if (!axis)
    return Shape{};
  auto position = normalizeAxis(*axis, shape);
  if (!position)
    return position.takeError();
  Shape result(shape.begin(), shape.end());
  result.erase(result.begin() + static_cast<std::ptrdiff_t>(*position));
  return result;
}

llvm::Expected<Shape> bp::alongAxisShape(llvm::ArrayRef<int64_t> shape, std::optional<int64_t> axis) {
  if (axis)
    if (auto position = normalizeAxis(*axis, shape); !position)
      return position.takeError();
  return Shape(shape.begin(), shape.end());
}

llvm::Expected<Shape> bp::transposeShape(llvm::ArrayRef<int64_t> shape) {
  if (shape.size() != 2)
    return shapeError("transpose takes a matrix, not " + (shape.empty() ? std::string("a scalar") : formatShape(shape)));
  return Shape{shape[1], shape[0]};
}

llvm::Expected<int64_t> bp::normalizeIndex(int64_t index, int64_t size, size_t dimension) {
  if (index < -size || index >= size)
    return shapeError("index " + std::to_string(index) + " is out of range for dimension " +
                      std::to_string(dimension) + " of size " + std::to_string(size));
  return index < 0 ? index + size : index;
}

Shape bp::rowMajorStrides(llvm::ArrayRef<int64_t> shape) {
  Shape strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    strides[i - 1] = strides[i] * shape[i];
  return strides;
}

Shape bp::broadcastStrides(llvm::ArrayRef<int64_t> shape, size_t rank) {
  Shape own = rowMajorStrides(shape), stride(rank, 0);
  for (size_t d = 0; d < shape.size(); ++d) // dimension d is dimension d + shift of the broadcast shape
    if (shape[d] != 1)
      stride[rank - shape.size() + d] = own[d];
  return stride;
}

llvm::Expected<std::pair<int64_t, int64_t>> bp::normalizeSlice(std::optional<int64_t> lo, std::optional<int64_t> hi,
                                                               int64_t size, size_t dimension) {
  auto clamp = [&](int64_t bound) { return std::clamp(bound < 0 ? bound + size : bound, int64_t(0), size); };
  int64_t begin = lo ? clamp(*lo) : 0, end = hi ? clamp(*hi) : size;
  if (begin < end)
    return std::make_pair(begin, end);
  std::string written = (lo ? std::to_string(*lo) : "") + ":" + (hi ? std::to_string(*hi) : "");
  return shapeError("slice " + written + " is empty for dimension " + std::to_string(dimension) + " of size " +
                    std::to_string(size));
}

llvm::Expected<Shape> bp::indexShape(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  size_t count = attrs.size() / 3;
  if (attrs.size() % 3 != 0 || count > shape.size())
    return shapeError("cannot index " + formatShape(shape) + " with " + std::to_string(count) + " indices");
  Shape result;
  for (size_t d = 0; d < count; ++d) {
    int64_t kind = attrs[d * 3], begin = attrs[d * 3 + 1], end = attrs[d * 3 + 2];
    bool integer = kind == IndexInteger && end == begin + 1;
    if (!integer && kind != IndexSlice)
      return shapeError("index attrs must be {kind, begin, end} triples");
    if (begin < 0 || begin >= end || end > shape[d])
      return shapeError("index attrs " + std::to_string(begin) + " to " + std::to_string(end) +
                        " do not lie in dimension " + std::to_string(d) + " of size " + std::to_string(shape[d]));
    if (!integer)
      result.push_back(end - begin);
  }
  result.insert(result.end(), shape.begin() + static_cast<std::ptrdiff_t>(count), shape.end());
  return result;
}

int64_t bp::indexStart(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  Shape strides = rowMajorStrides(shape);
  int64_t start = 0;
  for (size_t d = 0; d * 3 < attrs.size(); ++d)
    start += attrs[d * 3 + 1] * strides[d];
  return start;
}

Shape bp::indexStrides(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  Shape own = rowMajorStrides(shape), strides;
  for (size_t d = 0; d < shape.size(); ++d)
    if (d * 3 >= attrs.size() || attrs[d * 3] == IndexSlice)
      strides.push_back(own[d]);
  return strides;
}

bool bp::indexIsContiguous(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  bool longer = false; // whether an earlier dimension reads more than one position
  for (size_t d = 0; d * 3 < attrs.size(); ++d) {
    int64_t length = attrs[d * 3 + 2] - attrs[d * 3 + 1];
    if (longer && length != shape[d])
      return false;
    longer = longer || length > 1;
  }
  return true;
}

llvm::Expected<Shape> bp::dynamicIndexShape(llvm::ArrayRef<int64_t> shape, int64_t axis) {
  if (axis < 0 || static_cast<size_t>(axis) >= shape.size())
    return shapeError("cannot index " + formatShape(shape) + " along axis " + std::to_string(axis) +
                      (shape.empty() ? ": it is a scalar" : ""));
  Shape result(shape.begin(), shape.end());
  result.erase(result.begin() + axis);
  return result;
}

std::optional<int64_t> bp::dynamicIndexPosition(double index, int64_t size) {
  double extent = static_cast<double>(size);
  if (!(index >= -extent && index < extent && std::floor(index) == index)) // NaN fails every comparison
    return std::nullopt;
  auto position = static_cast<int64_t>(index);
  return position < 0 ? position + size : position;
}

ReductionExtent bp::reductionExtent(llvm::ArrayRef<int64_t> shape, std::optional<size_t> axis) {
  if (!axis)
    return {1, elementCount(shape), 1};
  return {elementCount(shape.take_front(*axis)), shape[*axis], elementCount(shape.drop_front(*axis + 1))};
}

ReductionExtent bp::axisExtent(llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> attrs) {
  return reductionExtent(shape, attrs.empty() ? std::nullopt : std::optional<size_t>(attrs[0]));
}

std::string bp::elementName(const std::string &name, llvm::ArrayRef<int64_t> shape, int64_t index) {
  if (shape.empty())
    return name;
  Shape strides = rowMajorStrides(shape);
  std::string text = name + "[";
  for (size_t d = 0; d < shape.size(); ++d)
    text += (d ? "," : "") + std::to_string(index / strides[d] % shape[d]);
  return text + "]";
}

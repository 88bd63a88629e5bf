//===- DataSet.h - Data rows bound to a script's inputs ---------*- C++ -*-===//
#ifndef BP_DATASET_H
#define BP_DATASET_H

#include "bp/Graph.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace bp {

/// How the columns of a data file bind inputs.
struct DataBinding {
  /// Empty: the file's first row is a header naming, per column, an input (`t`) or one element of a tensor
  /// input (`x[0]`, `x[1,2]`). Otherwise the file has no header, and these inputs' elements, each input
  /// flattened row-major, take its columns left to right (`--columns x,label`).
  std::vector<std::string> columns;
  /// Header columns to skip (`--ignore-columns id,name`): without this, a column that names no input is an
  /// error.
  std::vector<std::string> ignore;
};

/// Rows of numbers, each column bound to one element of an input of a script.
struct DataSet {
  std::vector<std::string> columns; // per bound column, its name: "t", "x[0]" (ignored columns are dropped)
  std::vector<NodeId> inputs;       // the inputs the file binds, each once, in the order of their first column
  std::vector<size_t> targets;      // per bound column: its place in the flat argument values
                                    // (Graph::argumentOffsets: an input's offset plus the element's row-major index)
  size_t rowCount = 0;
  std::vector<double> values;       // rowCount rows of columns.size() numbers, row-major

  llvm::ArrayRef<double> row(size_t r) const {
    return llvm::ArrayRef<double>(values).slice(r * columns.size(), columns.size());
  }
  /// Puts row `r`'s numbers where they belong in the flat argument values.
  void bindRow(size_t r, std::vector<double> &arguments) const {
    llvm::ArrayRef<double> numbers = row(r);
    for (size_t c = 0; c < numbers.size(); ++c)
      arguments[targets[c]] = numbers[c];
  }
};

/// Reads a CSV file (gzip-compressed too, `FILE.csv.gz`) whose columns bind inputs of `graph` as `binding`
/// says. Comma-separated, spaces around fields ignored, CRLF accepted, blank lines skipped. Errors (in clang's
/// form, with the CSV line and column, the first of them with a hint where one helps): a field that is not a
/// finite number, a row with the wrong number of fields, a column naming something that is not an input of the
/// script or an element outside its shape, a name given twice, a tensor input with elements no column binds,
/// a header where --columns says there is none and the reverse, no data rows.
llvm::Expected<DataSet> loadDataSet(const std::string &path, const Graph &graph, const DataBinding &binding = {});

} // namespace bp

#endif // BP_DATASET_H

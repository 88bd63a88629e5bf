//===- DataSet.h - Training data from CSV files -----------------*- C++ -*-===//
#ifndef BP_DATASET_H
#define BP_DATASET_H

#include "bp/Graph.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace bp {

/// Rows of numbers under a header of names. Each column binds one input of a script.
struct DataSet {
  std::vector<std::string> columns;
  std::vector<NodeId> inputs;            // the input each column binds
  std::vector<std::vector<double>> rows; // rows[r][c]
};

/// Reads a CSV file whose header row names inputs of `graph`. Comma-separated, spaces around fields ignored,
/// CRLF accepted, blank lines skipped. Errors (in clang's form, with the CSV line and column): a field that is
/// not a number, a row with the wrong number of fields, a header naming something that is not an input of
/// the script, a name given twice, no data rows.
llvm::Expected<DataSet> loadDataSet(const std::string &path, const Graph &graph);

} // namespace bp

#endif // BP_DATASET_H

//===- DataSet.cpp - Reading CSV training data ----------------------------===//
#include "bp/DataSet.h"
#include "bp/Diagnostics.h"
#include "bp/NumberFormat.h"

#include <cmath>
#include <set>

using namespace bp;

namespace {

struct Field {
  std::string text;
  uint32_t column; // 1-based, where the field's text starts
};

std::vector<Field> splitFields(std::string_view line) {
  std::vector<Field> fields;
  size_t start = 0;
  while (true) {
    size_t end = line.find(',', start);
    std::string_view raw = line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t first = raw.find_first_not_of(" \t");
    size_t last = raw.find_last_not_of(" \t");
    std::string text = first == std::string_view::npos ? "" : std::string(raw.substr(first, last - first + 1));
    fields.push_back({text, static_cast<uint32_t>(start + (first == std::string_view::npos ? 0 : first) + 1)});
    if (end == std::string_view::npos)
      return fields;
    start = end + 1;
  }
}

bool isBlank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

} // namespace

llvm::Expected<DataSet> bp::loadDataSet(const std::string &path, const Graph &graph) {
  auto file = loadSourceFile(path, FileKind::CSV);
  if (!file)
    return file.takeError();
  DiagnosticEngine diags(*file);
  DataSet data;

  uint32_t line = 1;
  while (line <= (*file)->lineCount() && isBlank((*file)->lineText(line)))
    ++line;
  if (line > (*file)->lineCount())
    return makeDiagnosticError(*file, {}, "no header row: the first line must name the inputs each column binds");

  std::set<std::string> seen;
  for (const Field &field : splitFields((*file)->lineText(line))) {
    SourceLoc loc{line, field.column};
    std::optional<NodeId> id = graph.lookupArgument(field.text);
    if (field.text.empty())
      diags.error(loc, "empty column name in the header row");
    else if (!seen.insert(field.text).second)
      diags.error(loc, "column '" + field.text + "' appears twice in the header row");
    else if (!graph.lookup(field.text))
      diags.error(loc, "column '" + field.text + "' names no input of the script");
    else if (!id)
      diags.error(loc, "column '" + field.text + "' names " + graph.describeNonArgument(field.text) +
                           ", not an input; a CSV column binds an input");
    else if (graph.node(*id).op != OpKind::Input)
      diags.error(loc, "column '" + field.text + "' names a param, not an input; a CSV column binds an input");
    data.columns.push_back(field.text);
    data.inputs.push_back(id.value_or(InvalidNode));
  }
  if (llvm::Error err = diags.takeError())
    return err;

  for (++line; line <= (*file)->lineCount(); ++line) {
    std::string_view text = (*file)->lineText(line);
    if (isBlank(text))
      continue;
    std::vector<Field> fields = splitFields(text);
    if (fields.size() != data.columns.size()) {
      diags.error({line, 1}, "row has " + std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s") +
                                 ", but the header names " + std::to_string(data.columns.size()) + " column" +
                                 (data.columns.size() == 1 ? "" : "s"));
      continue;
    }
    std::vector<double> row;
    for (const Field &field : fields) {
      double value;
      if (!parseNumber(field.text, value) || !std::isfinite(value)) {
        diags.error({line, field.column}, field.text.empty() ? "empty field; expected a number"
                                                             : "'" + field.text + "' is not a finite number");
        value = 0;
      }
      row.push_back(value);
    }
    data.rows.push_back(std::move(row));
    if (diags.hasErrors() && data.rows.size() > 1000)
      break; // enough errors to act on
  }
  if (llvm::Error err = diags.takeError())
    return err;
  if (data.rows.empty())
    return makeDiagnosticError(*file, {}, "no data rows after the header");
  return data;
}

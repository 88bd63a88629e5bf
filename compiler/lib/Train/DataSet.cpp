//===- DataSet.cpp - Reading data rows for a script's inputs -------------===//
//
// A column binds one element of an input: a scalar input by its name (`t`), an element of a tensor input by
// its indices (`x[3]`, `X[1,2]`). The names come from the file's header, or, for a file without one, from
// --columns, which lists whole inputs whose elements take the columns left to right.
//
//===----------------------------------------------------------------------===//
#include "bp/DataSet.h"
#include "bp/Diagnostics.h"
#include "bp/NumberFormat.h"
#include "bp/Shape.h"

#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <map>
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

/// The header's fields, with an element's indices kept together: `X[1,2]` is one column name.
std::vector<Field> splitHeader(std::string_view line) {
  std::vector<Field> fields;
  for (Field &field : splitFields(line)) {
    if (!fields.empty() && std::count(fields.back().text.begin(), fields.back().text.end(), '[') >
                               std::count(fields.back().text.begin(), fields.back().text.end(), ']'))
      fields.back().text += "," + field.text;
    else
      fields.push_back(std::move(field));
  }
  return fields;
}

bool isBlank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

/// Binds columns to inputs, collecting the diagnostics of names that do not bind.
class ColumnBinder {
public:
  ColumnBinder(const Graph &graph, DiagnosticEngine &diags, DataSet &data)
      : graph(graph), diags(diags), data(data), offsets(graph.argumentOffsets()) {}

  /// The input named `name`, or a diagnostic at `loc` saying why `name` is not one.
  std::optional<NodeId> input(const std::string &name, SourceLoc loc, const std::string &what,
                              const std::string &hint) {
    std::optional<NodeId> id = graph.lookupArgument(name);
    if (name.empty())
      diags.error(loc, "empty column name in the header row");
    else if (!graph.lookup(name))
      diags.error(loc, what + " names no input of the script" + hint);
    else if (!id)
      diags.error(loc, what + " names " + graph.describeNonArgument(name) + ", not an input; a CSV column binds an input" + hint);
    else if (graph.node(*id).op != OpKind::Input)
      diags.error(loc, what + " names a param, not an input; a CSV column binds an input" + hint);
    else
      return id;
    return std::nullopt;
  }

  /// Binds the next column to element `element` of input `id`.
  void bind(NodeId id, int64_t element, SourceLoc loc) {
    const Node &node = graph.node(id);
    std::string name = elementName(node.name, node.type.shape, element);
    if (!bound.emplace(std::make_pair(id, element), loc).second) {
      diags.error(loc, "column '" + name + "' appears twice in the header row");
      return;
    }
    if (std::find(data.inputs.begin(), data.inputs.end(), id) == data.inputs.end())
      data.inputs.push_back(id);
    data.columns.push_back(name);
    data.targets.push_back(offsets[graph.argumentIndex(id)] + static_cast<size_t>(element));
  }

  /// Binds a header column, `t` or `x[3]` or `X[1, 2]`.
  void bindHeader(const Field &field, SourceLoc loc, const std::string &hint) {
    std::string text = field.text;
    size_t open = text.find('[');
    std::string name = llvm::StringRef(text.substr(0, open)).rtrim().str();
    std::optional<NodeId> id = input(name, loc, "column '" + text + "'", hint);
    if (!id)
      return;
    const Shape &shape = graph.node(*id).type.shape;
    if (open == std::string::npos) {
      if (!shape.empty())
        diags.error(loc, "'" + name + "' has shape " + formatShape(shape) + ": a column binds one element, named " +
                             elementName(name, shape, 0) + " to " +
                             elementName(name, shape, elementCount(shape) - 1));
      else
        bind(*id, 0, loc);
      return;
    }
    if (shape.empty()) {
      diags.error(loc, "'" + name + "' is a number, not a tensor: its column is named '" + name + "'");
      return;
    }
    llvm::SmallVector<llvm::StringRef, 4> parts;
    llvm::StringRef inside = llvm::StringRef(text).drop_front(open + 1);
    bool closed = inside.consume_back("]");
    inside.split(parts, ',');
    int64_t element = 0;
    bool valid = closed && parts.size() == shape.size();
    for (size_t d = 0; valid && d < parts.size(); ++d) {
      unsigned long long index;
      valid = !parts[d].trim().getAsInteger(10, index) && index < static_cast<unsigned long long>(shape[d]);
      element = element * shape[d] + static_cast<int64_t>(index);
    }
    if (!valid) {
      diags.error(loc, "column '" + text + "' is not an element of '" + name + "', which has shape " +
                           formatShape(shape) + " (elements " + elementName(name, shape, 0) + " to " +
                           elementName(name, shape, elementCount(shape) - 1) + ")");
      return;
    }
    bind(*id, element, loc);
  }

  /// Reports, at `loc`, each tensor input whose elements are not all bound.
  void checkComplete(SourceLoc loc) {
    for (NodeId id : data.inputs) {
      const Node &node = graph.node(id);
      int64_t count = elementCount(node.type.shape), missing = -1, boundCount = 0;
      for (int64_t e = 0; e < count; ++e) {
        if (bound.count({id, e}))
          ++boundCount;
        else if (missing < 0)
          missing = e;
      }
      if (missing >= 0)
        diags.error(loc, "the columns bind " + std::to_string(boundCount) + " of the " + std::to_string(count) +
                             " elements of '" + node.name + "' " + formatShape(node.type.shape) + "; none binds " +
                             elementName(node.name, node.type.shape, missing));
    }
  }

private:
  const Graph &graph;
  DiagnosticEngine &diags;
  DataSet &data;
  std::vector<size_t> offsets;
  std::map<std::pair<NodeId, int64_t>, SourceLoc> bound;
};

/// The script's inputs, as a --columns list, for hints.
std::string inputList(const Graph &graph) {
  std::string list;
  for (NodeId id : graph.arguments())
    if (graph.node(id).op == OpKind::Input)
      list += (list.empty() ? "" : ",") + graph.node(id).name;
  return list;
}

} // namespace

llvm::Expected<DataSet> bp::loadDataSet(const std::string &path, const Graph &graph, const DataBinding &binding) {
  auto file = loadSourceFile(path, FileKind::CSV);
  if (!file)
    return file.takeError();
  DiagnosticEngine diags(*file);
  DataSet data;
  ColumnBinder binder(graph, diags, data);

  uint32_t line = 1;
  while (line <= (*file)->lineCount() && isBlank((*file)->lineText(line)))
    ++line;
  if (line > (*file)->lineCount())
    return makeDiagnosticError(*file, {}, binding.columns.empty()
                                              ? "no header row: the first line must name the inputs each column binds"
                                              : "no data rows");

  // Whether the first row is a header (it has a field that is not a number) or data.
  std::vector<Field> first = splitFields((*file)->lineText(line));
  auto name = std::find_if(first.begin(), first.end(), [](const Field &field) {
    double value;
    return !parseNumber(field.text, value);
  });
  std::vector<bool> keep; // per column of the file: whether it binds (or is ignored)
  if (binding.columns.empty()) {
    if (name == first.end())
      return makeDiagnosticError(*file, {line, 1},
                                 "the first row holds numbers, not a header naming the input each column binds; "
                                 "for a file without a header, name the inputs with --columns " + inputList(graph));
    std::set<std::string> ignore(binding.ignore.begin(), binding.ignore.end()), ignored;
    for (const Field &field : splitHeader((*file)->lineText(line))) {
      keep.push_back(!ignore.count(field.text));
      if (keep.back())
        binder.bindHeader(field, {line, field.column}, " (--ignore-columns " + field.text + " skips it)");
      else
        ignored.insert(field.text);
    }
    for (const std::string &skip : binding.ignore)
      if (!ignored.count(skip))
        diags.error({line, 1}, "--ignore-columns names '" + skip + "', which is no column of the header");
    ++line;
  } else {
    if (name != first.end())
      return makeDiagnosticError(*file, {line, name->column},
                                 "'" + name->text + "' is not a number, but --columns says the file has no header "
                                 "row; without --columns, the header names the columns");
    if (!binding.ignore.empty())
      return makeDiagnosticError(*file, {}, "--ignore-columns skips columns a header names, and with --columns the "
                                            "file has no header");
    for (size_t c = 0; c < binding.columns.size(); ++c) {
      const std::string &column = binding.columns[c];
      if (llvm::is_contained(llvm::ArrayRef(binding.columns).take_front(c), column))
        return makeDiagnosticError(*file, {}, "--columns names '" + column + "' twice");
      std::optional<NodeId> id = binder.input(column, {}, "--columns: '" + column + "'", "");
      for (int64_t e = 0, n = id ? elementCount(graph.node(*id).type.shape) : 0; e < n; ++e)
        binder.bind(*id, e, {});
    }
    keep.assign(data.columns.size(), true);
  }
  binder.checkComplete({binding.columns.empty() ? line - 1 : 0, 1});
  if (llvm::Error err = diags.takeError())
    return err;

  std::string expected = std::to_string(keep.size()) + " column" + (keep.size() == 1 ? "" : "s");
  std::string source = binding.columns.empty() ? "the header names " + expected : "--columns binds " + expected;
  for (; line <= (*file)->lineCount(); ++line) {
    std::string_view text = (*file)->lineText(line);
    if (isBlank(text))
      continue;
    std::vector<Field> fields = splitFields(text);
    if (fields.size() != keep.size()) {
      diags.error({line, 1}, "row has " + std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s") +
                                 ", but " + source);
      continue;
    }
    for (size_t c = 0; c < fields.size(); ++c) {
      double value;
      if (!keep[c])
        continue; // an ignored column may hold anything
      if (!parseNumber(fields[c].text, value) || !std::isfinite(value)) {
        diags.error({line, fields[c].column}, fields[c].text.empty()
                                                  ? "empty field; expected a number"
                                                  : "'" + fields[c].text + "' is not a finite number");
        value = 0;
      }
      data.values.push_back(value);
    }
    ++data.rowCount;
    if (diags.hasErrors() && data.rowCount > 1000)
      break; // enough errors to act on
  }
  if (llvm::Error err = diags.takeError())
    return err;
  if (data.rowCount == 0)
    return makeDiagnosticError(*file, {}, "no data rows after the header");
  return data;
}

//===- DataSetTest.cpp - CSV training data --------------------------------===//
#include "TestHelpers.h"

#include "bp/DataSet.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace bp;
using bp::test::compileOrFail;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

/// A CSV file with the given bytes, removed when the test ends.
class CsvFile {
public:
  explicit CsvFile(const std::string &text) {
    llvm::SmallString<128> model;
    llvm::sys::path::system_temp_directory(true, model);
    llvm::sys::path::append(model, "bp-dataset-%%%%%%.csv");
    int fd;
    EXPECT_FALSE(llvm::sys::fs::createUniqueFile(model, fd, path));
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << text;
  }
  ~CsvFile() { llvm::sys::fs::remove(path); }
  std::string name() const { return std::string(path); }

private:
  llvm::SmallString<128> path;
};

const char *TestScript = "input x = 0\ninput y = 0\ninput t\nparam w = 1\nnode f = w * x + y - t\noutput f\n";

/// The rendered error of loading `csv` against `script` ("" if it loaded).
std::string errorFor(const std::string &csv, const DataBinding &binding = {}, const char *script = TestScript) {
  Graph graph = compileOrFail(script);
  CsvFile file(csv);
  auto data = loadDataSet(file.name(), graph, binding);
  if (data)
    return "";
  std::string message = llvm::toString(data.takeError());
  // Diagnostics start with the file's temporary name: keep what follows it.
  size_t start = message.find(".csv");
  return start == std::string::npos ? message : message.substr(start + 4);
}

} // namespace

TEST(DataSet, ReadsTheHeaderAndRows) {
  Graph graph = compileOrFail(TestScript);
  CsvFile file("y, x\n1, 2\n\n  -3.5 ,1e2\n");
  auto data = loadDataSet(file.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("y", "x"));
  EXPECT_THAT(data->inputs, ElementsAre(*graph.lookup("y"), *graph.lookup("x")));
  ASSERT_EQ(data->rowCount, 2u); // the blank line is skipped
  EXPECT_THAT(data->row(0), ElementsAre(1.0, 2.0));
  EXPECT_THAT(data->row(1), ElementsAre(-3.5, 100.0));
  EXPECT_THAT(data->targets, ElementsAre(1u, 0u)); // y, x: the flat argument positions
}

TEST(DataSet, AcceptsCrlfAndAByteOrderMark) {
  Graph graph = compileOrFail(TestScript);
  CsvFile file("\xEF\xBB\xBFt,x\r\n0.5,1\r\n");
  auto data = loadDataSet(file.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("t", "x"));
  EXPECT_THAT(data->row(0), ElementsAre(0.5, 1.0));
}

TEST(DataSet, ReportsHeaderErrorsWithTheirColumns) {
  EXPECT_THAT(errorFor("x,nope\n1,2\n"), HasSubstr(":1:3: error: column 'nope' names no input of the script"));
  EXPECT_THAT(errorFor("x, w\n1,2\n"),
              HasSubstr(":1:4: error: column 'w' names a param, not an input; a CSV column binds an input"));
  EXPECT_THAT(errorFor("f\n1\n"),
              HasSubstr(":1:1: error: column 'f' names a node, not an input; a CSV column binds an input"));
  EXPECT_THAT(errorFor("x,,y\n1,2,3\n"), HasSubstr(":1:3: error: empty column name in the header row"));
  EXPECT_THAT(errorFor("x,y,x\n1,2,3\n"), HasSubstr(":1:5: error: column 'x' appears twice in the header row"));
  EXPECT_THAT(errorFor("\xEF\xBB\xBFnope\n1\n"), HasSubstr(":1:1: error: column 'nope' names no input"));
}

TEST(DataSet, ReportsRowErrorsWithTheirLineAndColumn) {
  EXPECT_THAT(errorFor("x,y\n1,2\n3\n"), HasSubstr(":3:1: error: row has 1 field, but the header names 2 columns"));
  EXPECT_THAT(errorFor("x,y\n1, two\n"), HasSubstr(":2:4: error: 'two' is not a finite number"));
  EXPECT_THAT(errorFor("x,y\n1,inf\n"), HasSubstr(":2:3: error: 'inf' is not a finite number"));
  EXPECT_THAT(errorFor("x,y\n1,\n"), HasSubstr(":2:3: error: empty field; expected a number"));
}

TEST(DataSet, ReportsFileLevelErrors) {
  EXPECT_THAT(errorFor("\n  \n"), HasSubstr("error: no header row"));
  EXPECT_THAT(errorFor("x,y\n"), HasSubstr("error: no data rows after the header"));
  EXPECT_THAT(errorFor(""), HasSubstr("error: file is empty"));
  EXPECT_THAT(errorFor("x\n\xFF\n"), HasSubstr(":2:1: error: invalid UTF-8 byte 0xFF; CSV files must be UTF-8 text"));
}

const char *TensorScript = "input x[3] = 0\ninput M[2,2]\ninput label = 0\nparam w[3] = 1\n"
                           "node f = sum(x * w) + sum(M) - label\noutput f\n";

TEST(DataSet, BindsTensorElementsByIndexInTheHeader) {
  Graph graph = compileOrFail(TensorScript);
  // x: offsets 0-2, M: 3-6, label: 7. Columns in any order, spaces inside brackets allowed.
  CsvFile file("label,x[2],x[0],x[1],M[1, 0],M[0,0],M[0,1],M[1,1]\n1,2,3,4,5,6,7,8\n");
  auto data = loadDataSet(file.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("label", "x[2]", "x[0]", "x[1]", "M[1,0]", "M[0,0]", "M[0,1]", "M[1,1]"));
  EXPECT_THAT(data->inputs, ElementsAre(*graph.lookup("label"), *graph.lookup("x"), *graph.lookup("M")));
  EXPECT_THAT(data->targets, ElementsAre(7u, 2u, 0u, 1u, 5u, 3u, 4u, 6u));
  std::vector<double> arguments(11, -1.0);
  data->bindRow(0, arguments);
  EXPECT_THAT(arguments, ElementsAre(3, 4, 2, 6, 7, 5, 8, 1, -1, -1, -1)); // w (8-10) untouched
}

TEST(DataSet, BindsAFileWithoutHeaderByColumns) {
  Graph graph = compileOrFail(TensorScript);
  CsvFile file("1,2,3,4\n5,6,7,8\n");
  auto data = loadDataSet(file.name(), graph, {{"x", "label"}, {}});
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("x[0]", "x[1]", "x[2]", "label"));
  EXPECT_THAT(data->targets, ElementsAre(0u, 1u, 2u, 7u));
  EXPECT_EQ(data->rowCount, 2u);
  EXPECT_THAT(data->row(1), ElementsAre(5, 6, 7, 8));
}

TEST(DataSet, IgnoresNamedColumnsWhateverTheyHold) {
  Graph graph = compileOrFail(TestScript);
  CsvFile file("id,x,name,t\n17,1,alice,2\n18,3,bob,4\n");
  auto data = loadDataSet(file.name(), graph, {{}, {"id", "name"}});
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("x", "t"));
  EXPECT_THAT(data->row(1), ElementsAre(3, 4));
  EXPECT_THAT(errorFor("id,x\n1,2\n"),
              HasSubstr(":1:1: error: column 'id' names no input of the script (--ignore-columns id skips it)"));
  EXPECT_THAT(errorFor("x\n1\n", {{}, {"id"}}),
              HasSubstr(":1:1: error: --ignore-columns names 'id', which is no column of the header"));
}

TEST(DataSet, ReadsGzipCompressedFiles) {
  Graph graph = compileOrFail(TestScript);
  // "x,t\n1,2\n" compressed by gzip -9 (two members: `cat a.gz b.gz` holds both files' text).
  const unsigned char member[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0xd0, 0x29,
                                  0xe1, 0x32, 0xd4, 0x31, 0xe2, 0x02, 0x00, 0xfd, 0xcc, 0xec, 0xbc, 0x08, 0x00,
                                  0x00, 0x00};
  const unsigned char second[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x33, 0xd6, 0x31,
                                  0xe1, 0x02, 0x00, 0x3e, 0x2d, 0x72, 0xa9, 0x04, 0x00, 0x00, 0x00};
  std::string bytes(reinterpret_cast<const char *>(member), sizeof member);
  CsvFile one(bytes);
  auto data = loadDataSet(one.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->row(0), ElementsAre(1, 2));
  CsvFile two(bytes + std::string(reinterpret_cast<const char *>(second), sizeof second));
  data = loadDataSet(two.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  ASSERT_EQ(data->rowCount, 2u);
  EXPECT_THAT(data->row(1), ElementsAre(3, 4));
  EXPECT_THAT(errorFor(bytes.substr(0, 20)), HasSubstr("error: cannot read file: the gzip data is truncated"));
  std::string corrupt = bytes;
  corrupt[12] = '\xff';
  EXPECT_THAT(errorFor(corrupt), HasSubstr("error: cannot read file: the gzip data is corrupt"));
}

TEST(DataSet, ReportsTensorBindingErrors) {
  auto error = [](const std::string &csv, const DataBinding &binding = {}) {
    return errorFor(csv, binding, TensorScript);
  };
  EXPECT_THAT(error("x[0],x[1],x[3]\n1,2,3\n"),
              HasSubstr(":1:11: error: column 'x[3]' is not an element of 'x', which has shape [3] (elements x[0] to x[2])"));
  EXPECT_THAT(error("M[0]\n1\n"), HasSubstr(":1:1: error: column 'M[0]' is not an element of 'M'"));
  EXPECT_THAT(error("M[0,x]\n1\n"), HasSubstr(":1:1: error: column 'M[0,x]' is not an element of 'M'"));
  EXPECT_THAT(error("x\n1\n"),
              HasSubstr(":1:1: error: 'x' has shape [3]: a column binds one element, named x[0] to x[2]"));
  EXPECT_THAT(error("label[0]\n1\n"),
              HasSubstr(":1:1: error: 'label' is a number, not a tensor: its column is named 'label'"));
  EXPECT_THAT(error("x[0],x[2]\n1,2\n"),
              HasSubstr(":1:1: error: the columns bind 2 of the 3 elements of 'x' [3]; none binds x[1]"));
  EXPECT_THAT(error("x[0],x[1],x[2],x[1]\n1,2,3,4\n"),
              HasSubstr(":1:16: error: column 'x[1]' appears twice in the header row"));
  EXPECT_THAT(error("1,2,3,4\n"), HasSubstr(":1:1: error: the first row holds numbers, not a header naming the "
                                              "input each column binds; for a file without a header, name the "
                                              "inputs with --columns x,M,label"));
  EXPECT_THAT(error("x[0],x[1],x[2]\n1,2,3\n", {{"x"}, {}}),
              HasSubstr(":1:1: error: 'x[0]' is not a number, but --columns says the file has no header row"));
  EXPECT_THAT(error("1,2,3\n1,2\n", {{"x"}, {}}),
              HasSubstr(":2:1: error: row has 2 fields, but --columns binds 3 columns"));
  EXPECT_THAT(error("1,2,3\n", {{"x", "w"}, {}}),
              HasSubstr("error: --columns: 'w' names a param, not an input"));
  EXPECT_THAT(error("1,2,3\n", {{"x", "x"}, {}}), HasSubstr("error: --columns names 'x' twice"));
  EXPECT_THAT(error("1,2,3\n", {{"x"}, {"id"}}), HasSubstr("error: --ignore-columns skips columns a header names"));
}

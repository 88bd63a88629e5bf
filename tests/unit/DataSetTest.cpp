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

/// The rendered error of loading `csv` against TestScript ("" if it loaded).
std::string errorFor(const std::string &csv) {
  Graph graph = compileOrFail(TestScript);
  CsvFile file(csv);
  auto data = loadDataSet(file.name(), graph);
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
  ASSERT_EQ(data->rows.size(), 2u); // the blank line is skipped
  EXPECT_THAT(data->rows[0], ElementsAre(1.0, 2.0));
  EXPECT_THAT(data->rows[1], ElementsAre(-3.5, 100.0));
}

TEST(DataSet, AcceptsCrlfAndAByteOrderMark) {
  Graph graph = compileOrFail(TestScript);
  CsvFile file("\xEF\xBB\xBFt,x\r\n0.5,1\r\n");
  auto data = loadDataSet(file.name(), graph);
  ASSERT_TRUE(static_cast<bool>(data)) << llvm::toString(data.takeError());
  EXPECT_THAT(data->columns, ElementsAre("t", "x"));
  EXPECT_THAT(data->rows[0], ElementsAre(0.5, 1.0));
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

//===- RandomScripts.h - Random well-formed scripts for property tests -----===//
#ifndef BP_TEST_RANDOM_SCRIPTS_H
#define BP_TEST_RANDOM_SCRIPTS_H

#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace bp::test {

/// Expressions over operands a and b whose values and derivatives stay finite for any finite a, b.
inline const char *const Templates[] = {
    "A + B",          "A - B",           "A * B",          "A / (1 + B * B)", "-A",
    "sin(A)",         "cos(A) * B",      "tan(tanh(A))",   "tanh(A)",         "sigmoid(A - B)",
    "exp(tanh(A))",   "log(1 + A * A)",  "sqrt(1 + A * A)", "(1 + A * A) ^ tanh(B)", "pow(1 + B * B, 0.5)",
    "relu(A) + B",    "abs(A - B)",      "max(A, B)",       "min(A, B) * 0.5", "A ^ 2",
};

inline std::string instantiate(std::string text, const std::string &a, const std::string &b) {
  std::string result;
  for (char c : text)
    result += c == 'A' ? a : c == 'B' ? b : std::string(1, c);
  return result;
}

/// A random script of `nodeCount` nodes. With `wholeChain`, every node's first operand is the node before it,
/// so the outputs depend on every node (the second operand, drawn from anything earlier, adds fan-out). With
/// `tensors`, each input and param is a scalar, a [3] or a [2,3] (drawn uniformly in [-1.5, 1.5]), which every
/// template broadcasts, so the outputs are tensors too.
inline std::string generate(std::mt19937 &random, int nodeCount, bool wholeChain = false, bool tensors = false) {
  std::ostringstream script;
  std::vector<std::string> names;
  std::uniform_real_distribution<double> value(-1.5, 1.5);
  int inputs = 2 + static_cast<int>(random() % 3), params = 1 + static_cast<int>(random() % 3);
  auto declare = [&](const char *kind, const std::string &name) {
    static const char *const shapes[] = {"", "[3]", "[2,3]"};
    const char *shape = tensors ? shapes[random() % 3] : "";
    if (*shape)
      script << kind << " " << name << shape << " = uniform(-1.5, 1.5)\n";
    else
      script << kind << " " << name << " = " << value(random) << "\n";
    names.push_back(name);
  };
  for (int i = 0; i < inputs; ++i)
    declare("input", "x" + std::to_string(i));
  for (int i = 0; i < params; ++i)
    declare("param", "w" + std::to_string(i));
  for (int n = 0; n < nodeCount; ++n) {
    auto pick = [&] {
      // Half the time the newest value (deep chains), otherwise anything earlier (fan-out).
      return random() % 2 ? names.back() : names[random() % names.size()];
    };
    std::string a = wholeChain ? names.back() : pick(), b = pick();
    std::string name = "n" + std::to_string(n);
    script << "node " << name << " = "
           << instantiate(Templates[random() % std::size(Templates)], a, b) << "\n";
    names.push_back(name);
  }
  script << "node out1 = " << names[names.size() - 1] << " + 0.5 * " << names[names.size() - 2] << "\n";
  script << "node out2 = tanh(" << names[names.size() - 3] << ")\n";
  script << "output out1, out2\n";
  return script.str();
}

} // namespace bp::test

#endif // BP_TEST_RANDOM_SCRIPTS_H

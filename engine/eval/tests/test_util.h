// Shared helpers of the eval tests: paths of the shipped data and a scratch directory that is
// removed when the test ends.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ritsu::eval::testing_util {

inline std::string SelectionJson() { return std::string(RITSU_SOURCE_DIR) + "/data/lawqa_jp/selection.json"; }
inline std::string FixtureDir() { return std::string(RITSU_SOURCE_DIR) + "/tests/data/eval"; }
inline std::string ReferenceEval(const std::string& name) {
  return std::string(RITSU_DATA_ROOT) + "/data/reference-evals/" + name;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("ritsu_eval_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace ritsu::eval::testing_util

// Development aid (not a test): prints every reference-eval response where ritsu's parser and
// the stored predicted_answer differ, to review the disagreements recorded in
// answer_parser_test.cc.  Usage: eval_parse_dump FILE.json...
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "engine/eval/answer_parser.h"

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    nlohmann::json j = nlohmann::json::parse(in);
    int n = 0;
    for (const auto& r : j["results"]) {
      auto p = ritsu::eval::ParseAnswer(r["response"].get<std::string>());
      std::string old = r["predicted_answer"].get<std::string>();
      if (p.Letter() != old) {
        std::string resp = r["response"].get<std::string>();
        std::cout << "== " << argv[i] << " #" << n << " old=" << old << " new=" << p.Letter()
                  << " (" << p.rule << ") truth=" << r["correct_answer"].get<std::string>() << "\n"
                  << resp.substr(0, 300) << "\n ... " << (resp.size() > 300 ? resp.substr(resp.size() - 300) : "") << "\n";
      }
      ++n;
    }
  }
}

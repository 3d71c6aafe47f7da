#include "engine/train/train_jsonl.h"

#include <fstream>

#include <nlohmann/json.hpp>

namespace ritsu::train {

using nlohmann::json;

std::string ParseTrainLine(std::string_view text, RawSample* out) {
  if (text.find_first_not_of(" \t\r") == std::string_view::npos) return "empty line";
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "not valid JSON";
  if (!j.is_object()) return "not a JSON object";
  auto input = j.find("input");
  auto output = j.find("output");
  if (input == j.end() || !input->is_string()) return "\"input\" is missing or not a string";
  if (output == j.end() || !output->is_string()) return "\"output\" is missing or not a string";
  std::string mode;
  if (auto meta = j.find("meta"); meta != j.end() && meta->is_object()) {
    if (auto m = meta->find("mode"); m != meta->end()) {
      if (!m->is_string()) return "\"meta.mode\" is not a string";
      mode = std::move(m->get_ref<std::string&>());
    }
  }
  // Moved, not copied, out of the DOM: the text is held once.
  out->input = std::move(input->get_ref<std::string&>());
  out->output = std::move(output->get_ref<std::string&>());
  out->mode = std::move(mode);
  return "";
}

Result<std::vector<RawSample>> ReadTrainJsonl(std::istream& in, const std::string& name, BadLinePolicy policy,
                                              ReadReport* report, size_t max_line_bytes) {
  std::vector<RawSample> out;
  std::string line;
  uint64_t line_bytes = 0;  // of the current line, including bytes dropped once it is too long
  int64_t n = 0;
  // Returns an error only under kFail.
  auto finish_line = [&]() -> Status {
    ++n;
    std::string why;
    if (line_bytes > max_line_bytes) {
      why = "line is " + std::to_string(line_bytes) + " bytes, longer than the limit of " +
            std::to_string(max_line_bytes) + " (training samples are cut to --max-seq-length tokens)";
    } else {
      RawSample s;
      s.line = n;
      why = ParseTrainLine(line, &s);
      if (why.empty()) out.push_back(std::move(s));
    }
    line.clear();
    line_bytes = 0;
    if (why.empty()) return Status::Ok();
    const std::string msg = name + ":" + std::to_string(n) + ": " + why;
    if (policy == BadLinePolicy::kFail) {
      return Status::InvalidArgument(msg + " (use --on-bad-line skip to skip such lines)");
    }
    if (report) {
      ++report->skipped_lines;
      report->messages.push_back(msg);
    }
    return Status::Ok();
  };
  std::vector<char> block(64 << 10);
  bool pending = false;  // bytes of an unfinished line were seen
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const size_t got = static_cast<size_t>(in.gcount());
    std::string_view rest(block.data(), got);
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const std::string_view part = rest.substr(0, nl);
      line_bytes += part.size();
      // Past the limit the line is only counted: its bytes are never stored.
      if (line_bytes <= max_line_bytes) line.append(part);
      else line.clear();
      pending = true;
      if (nl == std::string_view::npos) break;
      RITSU_RETURN_IF_ERROR(finish_line());
      pending = false;
      rest.remove_prefix(nl + 1);
    }
  }
  if (in.bad()) return Status::IOError("--train-file " + name + ": read error after line " + std::to_string(n));
  if (pending) RITSU_RETURN_IF_ERROR(finish_line());  // a last line without a newline
  if (out.empty()) return Status::InvalidArgument("--train-file " + name + ": no training samples");
  return out;
}

Result<std::vector<RawSample>> ReadTrainJsonl(const std::string& path, BadLinePolicy policy, ReadReport* report,
                                              size_t max_line_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("--train-file " + path + ": cannot open");
  return ReadTrainJsonl(in, path, policy, report, max_line_bytes);
}

}  // namespace ritsu::train

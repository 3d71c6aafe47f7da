// The time series of a run's metrics: when $RITSU_METRICS_SERIES names a file, one JSON object
// per line is appended and flushed for every progress line ({"kind":"train",...}) and every
// evaluation ({"kind":"eval",...}); the worker tails the file and streams the records to ritsud
// (docs/training.md "Metrics"). Keys are present only when measured.
#pragma once

#include <fstream>
#include <iosfwd>
#include <string>

#include <nlohmann/json.hpp>

namespace ritsu::train {

class MetricsSeries {
 public:
  // Disabled (Append is a no-op) when `path` is empty.
  explicit MetricsSeries(const std::string& path);
  // The file $RITSU_METRICS_SERIES names, or disabled.
  static MetricsSeries FromEnvironment();

  bool enabled() const { return !path_.empty(); }
  // Appends `record` as one line and flushes. A failure (full disk) is reported once on `err`
  // and does not stop the training: the series is a view of the run, not its result.
  void Append(const nlohmann::json& record, std::ostream& err);

 private:
  std::string path_;
  std::ofstream out_;
  bool warned_ = false;
};

}  // namespace ritsu::train

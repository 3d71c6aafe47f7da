#include "engine/train/metrics_series.h"

#include <cstdlib>
#include <ostream>

namespace ritsu::train {

MetricsSeries::MetricsSeries(const std::string& path) : path_(path) {
  if (!path_.empty()) out_.open(path_, std::ios::app);
}

MetricsSeries MetricsSeries::FromEnvironment() {
  const char* p = std::getenv("RITSU_METRICS_SERIES");
  return MetricsSeries(p ? p : "");
}

void MetricsSeries::Append(const nlohmann::json& record, std::ostream& err) {
  if (path_.empty()) return;
  out_ << record.dump() << "\n";
  out_.flush();
  if (!out_ && !warned_) {
    warned_ = true;
    err << "train: writing the metrics series to " << path_ << " failed (disk full?); training continues\n";
  }
}

}  // namespace ritsu::train

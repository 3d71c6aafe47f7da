#include "engine/train/train_main.h"

#include <iostream>

#include "engine/train/stop_signal.h"
#include "engine/train/trainer.h"

namespace ritsu::train {

int TrainMain(int argc, char** argv) {
  auto opts = ParseTrainArgs(argc, argv);
  if (!opts.ok()) {
    if (opts.status().code() == Status::Code::kNotFound) {  // --help
      std::cout << opts.status().message();
      return 0;
    }
    std::cerr << "ritsu-engine train: " << opts.status().message() << "\n";
    return 2;
  }
  InstallStopSignalHandlers();
  auto res = RunTraining(*opts, std::cout, std::cerr);
  if (!res.ok()) {
    std::cerr << "ritsu-engine train: " << res.status().message() << "\n";
    const auto c = res.status().code();
    return c == Status::Code::kInvalidArgument || c == Status::Code::kNotFound ? 2 : 1;
  }
  return res->preempted ? kPreemptedExitCode : 0;
}

}  // namespace ritsu::train

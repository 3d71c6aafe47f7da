// `ritsu-engine train`: entry point for the subcommand table (engine/app/subcommands.cc).
#pragma once

namespace ritsu::train {

// Exit codes: 0 done, 2 bad flags or input, 1 anything else (I/O, NaN loss).
int TrainMain(int argc, char** argv);

}  // namespace ritsu::train

// ritsu-engine's subcommands: one table, name -> entry point. Adding a subcommand is one line
// in subcommands.cc (and linking its library in engine/app/CMakeLists.txt).
#pragma once

#include <span>

namespace ritsu::engine::app {

struct Subcommand {
  const char* name;
  int (*main)(int argc, char** argv);  // argv[0] is the subcommand name
  const char* summary;
};

std::span<const Subcommand> Subcommands();

// The engine's own subcommands (engine/app/*_command.cc).
int MakeModelMain(int argc, char** argv);
int GenerateMain(int argc, char** argv);
int LogitsMain(int argc, char** argv);
int InspectMain(int argc, char** argv);

}  // namespace ritsu::engine::app

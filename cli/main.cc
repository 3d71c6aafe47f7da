// ritsu: the command line of the ritsu scheduler (see docs/cli.md).
#include <csignal>
#include <iostream>

#include "cli/commands.h"
#include "common/version.h"

int main(int argc, char** argv) {
  if (ritsu::PrintVersionIfAsked(argc, argv, "ritsu")) return 0;
  std::signal(SIGPIPE, SIG_IGN);  // `ritsu logs ID | head` must end quietly
  std::vector<std::string> args(argv + 1, argv + argc);
  return ritsu::cli::RunCli(args, std::cout, std::cerr);
}

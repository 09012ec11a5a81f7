// hangar: the CLI's composition root. Everything else lives in src/cli/.
#include <iostream>

#include "cli/cli.h"

int main(int argc, char** argv) {
  return hangar::cli::RunCli(argc, argv, std::cout, std::cerr, hangar::cli::ProcessEnv());
}

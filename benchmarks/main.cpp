// The Catch2 runner for the benchmarks; the other benchmarks/*.cpp files add the cases.
#define CATCH_CONFIG_RUNNER
#ifndef CATCH_CONFIG_ENABLE_BENCHMARKING
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#endif
#include <catch2/catch.hpp>

int main(int argc, char* argv[]) { return Catch::Session().run(argc, argv); }

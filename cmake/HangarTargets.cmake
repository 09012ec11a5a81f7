# One way to declare a module, a test and a benchmark, so every source compiles once (into its
# module library) and links into apps, tests and benches.

# hangar_library(NAME SOURCES ... DEPS ...): static library `hangar_NAME`, alias hangar::NAME.
function(hangar_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(hangar_${name} STATIC ${ARG_SOURCES})
  add_library(hangar::${name} ALIAS hangar_${name})
  target_include_directories(hangar_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(hangar_${name} PUBLIC ${ARG_DEPS} hangar_pch)
  target_precompile_headers(hangar_${name} REUSE_FROM hangar_pch)
endfunction()

# hangar_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary registered with CTest.
function(hangar_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} hangar_pch GTest::gtest GTest::gmock GTest::gtest_main)
  target_precompile_headers(${name} REUSE_FROM hangar_pch)
  include(GoogleTest)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}"
                       ENVIRONMENT "HANGAR_BIN_DIR=${PROJECT_BINARY_DIR}/bin")
endfunction()

# hangar_bench(NAME SOURCES ... DEPS ...): a Google Benchmark binary.
function(hangar_bench name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} hangar_pch benchmark::benchmark)
  target_precompile_headers(${name} REUSE_FROM hangar_pch)
endfunction()

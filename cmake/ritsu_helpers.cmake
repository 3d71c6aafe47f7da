# ritsu_test(NAME SOURCES... LIBS ...): a GoogleTest executable registered with ctest.
# Every test gets RITSU_DATA_ROOT / RITSU_SOURCE_DIR / RITSU_BINARY_DIR as compile definitions
# so it can find shared data and the built binaries without relying on the working directory.
function(ritsu_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock Threads::Threads)
  target_compile_definitions(${name} PRIVATE
    RITSU_DATA_ROOT="${RITSU_DATA_ROOT}"
    RITSU_SOURCE_DIR="${RITSU_SOURCE_DIR}"
    RITSU_BINARY_DIR="${CMAKE_BINARY_DIR}")
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}")
endfunction()

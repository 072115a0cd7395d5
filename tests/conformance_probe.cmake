# Run with cmake -P. Compiles the conformance probe QNT_PROBE_SOURCE with
# QNT_CXX_COMPILER against the headers in QNT_INCLUDE_DIR into QNT_PROBE_OUTPUT,
# then runs it on the golden files in QNT_DATA_DIR.

foreach(var QNT_CXX_COMPILER QNT_INCLUDE_DIR QNT_PROBE_SOURCE QNT_PROBE_OUTPUT QNT_DATA_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "conformance_probe: -D${var}=... is required")
  endif()
endforeach()

file(REMOVE "${QNT_PROBE_OUTPUT}")

message(STATUS "conformance_probe: compiling ${QNT_PROBE_SOURCE}")
execute_process(
  COMMAND "${QNT_CXX_COMPILER}" -std=c++20 -O2 "-I${QNT_INCLUDE_DIR}"
          -DQNT_PROBE_NO_KERNELS "${QNT_PROBE_SOURCE}" -lhwy -o "${QNT_PROBE_OUTPUT}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "conformance_probe: compiling the probe failed (${rc})")
endif()

message(STATUS "conformance_probe: running against ${QNT_DATA_DIR}")
execute_process(COMMAND "${QNT_PROBE_OUTPUT}" "${QNT_DATA_DIR}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "conformance_probe: the probe reported failures (${rc})")
endif()

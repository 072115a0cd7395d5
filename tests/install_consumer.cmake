# Run with cmake -P. Installs the qnt build tree QNT_BUILD_DIR into a scratch prefix
# under QNT_WORK_DIR, then configures, builds and runs the project in
# QNT_CONSUMER_SOURCE_DIR against that prefix with QNT_CXX_COMPILER.
# Optional: QNT_GENERATOR (CMake generator), QNT_CONFIG (build configuration).

foreach(var QNT_BUILD_DIR QNT_CONSUMER_SOURCE_DIR QNT_WORK_DIR QNT_CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "install_consumer: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${QNT_WORK_DIR}/prefix")
set(consumer_build "${QNT_WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${QNT_WORK_DIR}")
file(MAKE_DIRECTORY "${QNT_WORK_DIR}")

set(config_args "")
set(build_type_arg "")
if(NOT "${QNT_CONFIG}" STREQUAL "")
  set(config_args --config "${QNT_CONFIG}")
  set(build_type_arg "-DCMAKE_BUILD_TYPE=${QNT_CONFIG}")
endif()

set(generator_args "")
if(NOT "${QNT_GENERATOR}" STREQUAL "")
  set(generator_args -G "${QNT_GENERATOR}")
endif()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc})")
  endif()
endfunction()

message(STATUS "install_consumer: installing ${QNT_BUILD_DIR} into ${prefix}")
run_step("install"
  "${CMAKE_COMMAND}" --install "${QNT_BUILD_DIR}" --prefix "${prefix}" ${config_args})

file(GLOB_RECURSE found LIST_DIRECTORIES false "${prefix}/*/qntConfig.cmake")
if(NOT found)
  message(FATAL_ERROR "install_consumer: the install put no qntConfig.cmake under ${prefix}")
endif()

message(STATUS "install_consumer: configuring the consumer project")
run_step("configure"
  "${CMAKE_COMMAND}" -S "${QNT_CONSUMER_SOURCE_DIR}" -B "${consumer_build}"
  ${generator_args}
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER=${QNT_CXX_COMPILER}"
  ${build_type_arg})

message(STATUS "install_consumer: building the consumer project")
run_step("build" "${CMAKE_COMMAND}" --build "${consumer_build}" ${config_args})

# Single-config generators put the program at the top of the build tree,
# multi-config ones in a per-configuration folder.
set(exe "")
foreach(candidate
    "${consumer_build}/consumer"
    "${consumer_build}/consumer.exe"
    "${consumer_build}/${QNT_CONFIG}/consumer"
    "${consumer_build}/${QNT_CONFIG}/consumer.exe")
  if(EXISTS "${candidate}" AND NOT IS_DIRECTORY "${candidate}")
    set(exe "${candidate}")
    break()
  endif()
endforeach()
if(exe STREQUAL "")
  message(FATAL_ERROR "install_consumer: the consumer executable was not found in ${consumer_build}")
endif()

message(STATUS "install_consumer: running ${exe}")
run_step("run" "${exe}")
message(STATUS "install_consumer: passed")

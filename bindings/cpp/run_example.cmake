# Runs an example and checks both its exit status and its exact output.
#   cmake -DEXE=path -DEXPECTED=text -P run_example.cmake
execute_process(COMMAND ${EXE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
  TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} exited ${rc}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT out STREQUAL EXPECTED)
  message(FATAL_ERROR "${EXE} printed:\n${out}\nexpected:\n${EXPECTED}")
endif()

# llmserve_executable(NAME SOURCES ... [LIBS ...]): an executable of ours, built with our warnings
# and linking LIBS (default: all of llmserve_core). Tests and benchmarks build on it.
function(llmserve_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_LIBS)
    set(ARG_LIBS llmserve_core)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${LLMSERVE_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS})
endfunction()

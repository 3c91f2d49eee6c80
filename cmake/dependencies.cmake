# Every dependency comes from Debian 12 (scripts/setup.sh installs them); DESIGN.md section 11.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED COMPONENTS url)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenMP REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# OpenBLAS built on OpenMP (Debian's libopenblas-openmp-dev): its GEMMs and our OpenMP loops then
# share one thread pool. The default pthread build spins its own threads beside OpenMP's and,
# on 2 cores, made decode steps up to 20x slower. Linked by path; CMake's build RPATH points at its
# directory, so the binary does not pick up whichever libopenblas.so.0 the alternatives select.
find_library(OPENBLAS_LIBRARY openblas
             PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib64/openblas-openmp
             NO_DEFAULT_PATH)
if(NOT OPENBLAS_LIBRARY)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: apt-get install libopenblas-openmp-dev")
endif()
set(BLAS_LIBRARIES ${OPENBLAS_LIBRARY})
find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)
# The reference model and fixture scripts use Debian's python3-numpy, installed for /usr/bin/python3
# (a pyenv or venv python earlier on PATH would not see it).
if(EXISTS /usr/bin/python3 AND NOT Python3_EXECUTABLE)
  set(Python3_EXECUTABLE /usr/bin/python3)
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
find_program(NODE_EXECUTABLE node)
find_program(NPM_EXECUTABLE npm)

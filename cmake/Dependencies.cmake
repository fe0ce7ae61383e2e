# Third-party libraries, all from Debian 12 (tools/install-deps.sh installs
# them). Configuring fails with the package name when one is missing.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

macro(alc_require_pkg var module debpkg)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package "
                        "${debpkg} (bash tools/install-deps.sh)")
  endif()
endmacro()

alc_require_pkg(CJSON libcjson libcjson-dev)
alc_require_pkg(OPENBLAS openblas libopenblas-dev)
alc_require_pkg(LAPACKE lapacke liblapacke-dev)
alc_require_pkg(PCRE2 libpcre2-8 libpcre2-dev)
alc_require_pkg(ICU icu-uc libicu-dev)
alc_require_pkg(CMOCKA cmocka libcmocka-dev)

# LLVM is required (the CPU backend JIT-compiles through its C API). We pin
# Debian's LLVM 16: the ORC C API changes between versions.
find_package(LLVM 16 CONFIG PATHS /usr/lib/llvm-16/lib/cmake/llvm
             NO_DEFAULT_PATH)
if(NOT LLVM_FOUND)
  message(FATAL_ERROR "LLVM 16 not found: install the Debian package "
                      "llvm-16-dev (bash tools/install-deps.sh)")
endif()
message(STATUS "LLVM ${LLVM_PACKAGE_VERSION} at ${LLVM_DIR}")

# CUDA (NVRTC + the driver API loaded at run time) is optional.
set(ALC_HAVE_CUDA OFF)
if(NOT ALC_CUDA STREQUAL "OFF")
  find_path(NVRTC_INCLUDE_DIR nvrtc.h PATHS /usr/local/cuda/include
            ENV CUDA_HOME PATH_SUFFIXES include)
  find_library(NVRTC_LIBRARY nvrtc PATHS /usr/local/cuda/lib64
               ENV CUDA_HOME PATH_SUFFIXES lib64)
  if(NVRTC_INCLUDE_DIR AND NVRTC_LIBRARY)
    set(ALC_HAVE_CUDA ON)
    message(STATUS "GPU backend: NVRTC at ${NVRTC_LIBRARY}")
  elseif(ALC_CUDA STREQUAL "ON")
    message(FATAL_ERROR "ALC_CUDA=ON but NVRTC was not found")
  else()
    message(STATUS "GPU backend: skipped (NVRTC not found)")
  endif()
else()
  message(STATUS "GPU backend: skipped (ALC_CUDA=OFF)")
endif()

# MPI is optional: `dsac search` spreads evaluations over ranks when present.
find_package(MPI COMPONENTS C QUIET)
if(MPI_C_FOUND)
  message(STATUS "MPI: ${MPI_C_LIBRARIES}")
else()
  message(STATUS "MPI: not found, dsac search runs single-process")
endif()

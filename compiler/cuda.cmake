# The GPU backend (alc_cuda): CUDA C emitted from the pass schedule
# (cuda_emit.c), compiled by NVRTC (cuda_nvrtc.c) and launched through the
# CUDA driver API (cuda_driver.c); both libraries are dlopen'ed at run time,
# so only the toolkit's headers are needed to build it. Built when
# cmake/Dependencies.cmake found NVRTC (ALC_HAVE_CUDA), skipped otherwise;
# nothing else depends on it. alc_backend_select (--backend auto|llvm|cuda|
# interp) is built in every configuration.
add_library(alc_backend_select STATIC backend_select.c)
target_include_directories(alc_backend_select PUBLIC
                           ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(alc_backend_select PUBLIC alc_front alc_common)
alc_target_defaults(alc_backend_select)

if(ALC_HAVE_CUDA)
  add_library(alc_cuda STATIC cuda_emit.c cuda_logw.c cuda_nvrtc.c
              cuda_driver.c cuda_backend.c)
  target_include_directories(alc_cuda PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_include_directories(alc_cuda SYSTEM PRIVATE ${NVRTC_INCLUDE_DIR})
  # The configured NVRTC is the first one tried at run time.
  target_compile_definitions(alc_cuda PRIVATE
                             ALC_NVRTC_PATH="${NVRTC_LIBRARY}"
                             INTERFACE ALC_CUDA_BACKEND=1)
  target_link_libraries(alc_cuda PUBLIC alc_plan alc_front alc_common
                        Threads::Threads ${CMAKE_DL_LIBS} m)
  alc_target_defaults(alc_cuda)
  set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_cuda)
  target_link_libraries(alc_backend_select PUBLIC alc_cuda)
  target_compile_definitions(alc_backend_select PRIVATE ALC_WITH_CUDA)
  message(STATUS "GPU backend: built (NVRTC and libcuda.so.1 are loaded "
                 "at run time)")
endif()
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_backend_select)

# The LLVM backend: the pass schedule and the host log|w| tables (alc_plan,
# shared with the CUDA backend) and the ORC JIT that compiles it (alc_jit). LLVM 16 is required
# (cmake/Dependencies.cmake); version-sensitive calls live in llvm_compat.c.
add_library(alc_plan STATIC plan.c logw_table.c)
target_include_directories(alc_plan PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(alc_plan PUBLIC alc_front alc_common Threads::Threads m)
alc_target_defaults(alc_plan)
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_plan)

add_library(alc_jit STATIC jit_llvm.c jit_codegen.c jit_vmath.c jit_logw.c
            llvm_compat.c)
target_include_directories(alc_jit PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_include_directories(alc_jit SYSTEM PRIVATE ${LLVM_INCLUDE_DIRS})
# libLLVM-16.so: one shared library instead of ~40 static components.
target_link_libraries(alc_jit PUBLIC alc_plan alc_front alc_common
                      Threads::Threads m PRIVATE LLVM)
target_link_directories(alc_jit PUBLIC ${LLVM_LIBRARY_DIRS})
alc_target_defaults(alc_jit)
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_jit)

# The search's pure-AST part: search-space files (space.c, space_member.c)
# and the mutation / crossover operators (evolve.c). The default spaces
# stdlib/search/{dsa,free}.space are embedded so `dsac search` needs no
# installed files. The search driver that runs candidates on a model is
# search/ (alc_search).
set(evolve_gen_dsa ${CMAKE_CURRENT_BINARY_DIR}/space_dsa.c)
set(evolve_gen_free ${CMAKE_CURRENT_BINARY_DIR}/space_free.c)
embed_text(${PROJECT_SOURCE_DIR}/stdlib/search/dsa.space ${evolve_gen_dsa}
           alc_space_dsa_src)
embed_text(${PROJECT_SOURCE_DIR}/stdlib/search/free.space ${evolve_gen_free}
           alc_space_free_src)
add_library(alc_evolve STATIC space.c space_member.c evolve.c
            ${evolve_gen_dsa} ${evolve_gen_free})
target_include_directories(alc_evolve PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(alc_evolve PUBLIC alc_front alc_common m)
alc_target_defaults(alc_evolve)
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_evolve)

# The front end: op table, IR, lexer/parser driver, checker, lowering,
# printer, random programs, reference interpreter (the alc_backend_interp
# backend) and DSA import. The generated lexer/parser are alc_grammar
# (grammar/CMakeLists.txt); the prelude is embedded from stdlib/.
set(front_gen ${CMAKE_CURRENT_BINARY_DIR}/prelude.c)
embed_text(${PROJECT_SOURCE_DIR}/stdlib/prelude.alloc ${front_gen}
           alc_prelude_src)
add_library(alc_front STATIC ops.c ir.c ast.c parse.c check.c lower.c
            print.c random.c interp.c explain.c
            import_dsa.c ${front_gen})
target_include_directories(alc_front PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(alc_front PUBLIC alc_common alc_grammar m)
add_dependencies(alc_front alc_grammar_gen)
alc_target_defaults(alc_front)
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_front)

# The front end: op table, IR, lexer/parser driver, checker, printer,
# reference interpreter (the alc_backend_interp backend), DSA import.
add_library(alc_front STATIC ops.c ir.c)
target_include_directories(alc_front PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(alc_front PUBLIC alc_common m)
alc_target_defaults(alc_front)
set_property(GLOBAL APPEND PROPERTY ALC_LIBS alc_front)

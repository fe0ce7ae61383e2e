# re2c and Lemon run at build time into the build tree; generated code is
# never committed. A Lemon conflict makes lemon exit non-zero, which fails
# the build (we never patch that out).
find_program(RE2C_EXECUTABLE re2c)
find_program(LEMON_EXECUTABLE lemon)
if(NOT RE2C_EXECUTABLE)
  message(FATAL_ERROR "re2c not found: run 'bash tools/install-deps.sh' "
                      "(Debian package re2c)")
endif()
if(NOT LEMON_EXECUTABLE)
  message(FATAL_ERROR "lemon not found: run 'bash tools/install-deps.sh' "
                      "(Debian package lemon)")
endif()
find_file(LEMON_TEMPLATE lempar.c PATHS /usr/share/lemon /usr/local/share/lemon
          NO_DEFAULT_PATH)
if(NOT LEMON_TEMPLATE)
  message(FATAL_ERROR "lempar.c (Lemon's parser template) not found")
endif()

# re2c_generate(<input.re> <output.c>)
function(re2c_generate in out)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${RE2C_EXECUTABLE} -W -Werror --no-generation-date -o ${out} ${in}
    DEPENDS ${in}
    COMMENT "re2c ${in}")
endfunction()

# lemon_generate(<input.y> <outdir>): produces <outdir>/<name>.c and .h.
function(lemon_generate in outdir)
  get_filename_component(name ${in} NAME_WE)
  add_custom_command(
    OUTPUT ${outdir}/${name}.c ${outdir}/${name}.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${outdir}
    COMMAND ${LEMON_EXECUTABLE} -q -s -d${outdir} -T${LEMON_TEMPLATE} ${in}
    DEPENDS ${in}
    COMMENT "lemon ${in}")
endfunction()

# embed_text(<input> <output.c> <symbol>): a file's bytes as a C string, for
# sources (the stdlib prelude) the binary must carry.
function(embed_text in out sym)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${in} -DOUT=${out} -DSYM=${sym}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${in} ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "embed ${in}")
endfunction()

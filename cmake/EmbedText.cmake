# cmake -DIN=file -DOUT=file.c -DSYM=name -P EmbedText.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from ${IN}; edit that file, not this one */\n"
     "#include <stddef.h>\n"
     "const unsigned char ${SYM}[] = {${bytes} 0};\n"
     "const size_t ${SYM}_len = sizeof ${SYM} - 1;\n")

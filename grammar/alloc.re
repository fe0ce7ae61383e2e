/*
 * alloc.re: the .alloc lexer.
 *
 * Generated into <build>/grammar/alloc_lex.c by re2c (see
 * grammar/CMakeLists.txt); edit this file, not that one.
 *
 * alc_lex_token scans one token at s and returns its type (a TK_* code of
 * the Lemon grammar) and its length in bytes; it never allocates. Tokens
 * are slices of the source: the driver (compiler/parse.c) attaches
 * line:col. The input must end in a NUL byte and contain no other NUL
 * (the driver rejects NUL bytes, invalid UTF-8 and control characters
 * before lexing), so NUL is the end of input.
 */
#include "parse_int.h"

int alc_lex_token(const char *s, int *len)
{
    const unsigned char *YYCURSOR = (const unsigned char *)s;
    const unsigned char *YYMARKER = YYCURSOR;
    const unsigned char *start = YYCURSOR;
    int type = TK_ILLEGAL;
    /*!re2c
        re2c:define:YYCTYPE = "unsigned char";
        re2c:yyfill:enable = 0;
        re2c:indent:top = 1;

        digit   = [0-9];
        letter  = [a-zA-Z_];
        exp     = [eE] [+-]? digit+;
        number  = (digit+ ("." digit*)? | "." digit+) exp?;
        badnum  = [0-9.] [0-9a-zA-Z_.]*;
        name    = letter (letter | digit)*;
        space   = [ \t\r\n\f\v]+;
        utf8    = [\xc0-\xf7] [\x80-\xbf]*;

        "\x00"      { *len = 0; return 0; }
        space       { type = TK_SPACE; goto done; }
        "#" [^\n\x00]* { type = TK_COMMENT; goto done; }

        "param"     { type = TK_PARAM; goto done; }
        "fn"        { type = TK_FN; goto done; }
        "let"       { type = TK_LET; goto done; }
        "in"        { type = TK_IN; goto done; }
        "and"       { type = TK_AND; goto done; }
        "or"        { type = TK_OR; goto done; }
        "not"       { type = TK_NOT; goto done; }
        name        { type = TK_NAME; goto done; }
        number      { type = TK_NUMBER; goto done; }
        badnum      { type = TK_ILLEGAL; goto done; }

        "+"         { type = TK_PLUS; goto done; }
        "-"         { type = TK_MINUS; goto done; }
        "*"         { type = TK_STAR; goto done; }
        "/"         { type = TK_SLASH; goto done; }
        "^"         { type = TK_CARET; goto done; }
        "<"         { type = TK_LT; goto done; }
        "<="        { type = TK_LE; goto done; }
        ">"         { type = TK_GT; goto done; }
        ">="        { type = TK_GE; goto done; }
        "=="        { type = TK_EQEQ; goto done; }
        "!="        { type = TK_NE; goto done; }
        "="         { type = TK_EQ; goto done; }
        "("         { type = TK_LP; goto done; }
        ")"         { type = TK_RP; goto done; }
        "["         { type = TK_LBRACKET; goto done; }
        "]"         { type = TK_RBRACKET; goto done; }
        ","         { type = TK_COMMA; goto done; }

        utf8        { type = TK_ILLEGAL; goto done; }
        *           { type = TK_ILLEGAL; goto done; }
    */
done:
    (void)YYMARKER;
    *len = (int)(YYCURSOR - start);
    return type;
}

/*
** alloc.y: the Lemon grammar of the .alloc language.
**
** Generated into <build>/grammar/lemon/alloc.c and alloc.h by lemon (see
** grammar/CMakeLists.txt); edit this file, not those. Lemon exits non-zero
** on any parsing conflict, which fails the build: keep it that way.
**
** The driver (compiler/parse.c: alc_parse_source) feeds it the tokens of
** grammar/alloc.re one at a time and stops at the first syntax error.
** Actions only call the ast_* helpers of compiler/parse.c, which build
** arena-allocated nodes with source spans (compiler/ast.h).
**
** The language is newline-insensitive: every statement starts with a
** keyword (param, fn, let) or with `NAME =` (an output), and no expression
** can continue with those, so statements need no separator.
*/
%include {
#include <assert.h>
#include <stdlib.h>

#include "parse_int.h"
}

%token_prefix TK_
%extra_context {struct alc_parse *p}
%token_type {struct alc_tok}
%name alc_parser
%start_symbol program
%stack_size 1000

%syntax_error {
    alc_parse_syntax_error(p, yymajor, &yyminor);
}
%stack_overflow {
    alc_parse_overflow(p);
}

/* Tokens the lexer produces that the parser never sees: the driver skips
** whitespace and comments and reports ILLEGAL itself. */
%token SPACE COMMENT ILLEGAL.

/* ---- Precedence, lowest first (ORDER: enum alc_prec in ops.h) ---- */
%left OR.
%left AND.
%right NOT.
%nonassoc LT LE GT GE EQEQ NE.
%left PLUS MINUS.
%left STAR SLASH.
%right NEG.
%right CARET.

/* ---- Program ---- */
program ::= stmts.
stmts ::= .
stmts ::= stmts stmt.

/* ---- param NAME = VALUE in [LO, HI] ---- */
stmt ::= PARAM(K) NAME(N) EQ num(V) IN LBRACKET num(LO) COMMA num(HI)
         RBRACKET(E).
    { ast_stmt_param(p, &K, &N, &V, &LO, &HI, &E); }

%type num {struct alc_num}
num(A) ::= NUMBER(T).          { A = ast_num_token(p, &T, NULL); }
num(A) ::= MINUS(M) NUMBER(T). { A = ast_num_token(p, &T, &M); }

/* ---- fn NAME(ARGS) = EXPR ---- */
stmt ::= FN(K) NAME(N) LP names(L) RP EQ expr(X).
    { ast_stmt_fn(p, &K, &N, L, X); }
stmt ::= FN(K) NAME(N) LP RP EQ expr(X).
    { ast_stmt_fn(p, &K, &N, NULL, X); }

%type names {struct alc_namelist *}
names(A) ::= NAME(N).                { A = ast_names(p, NULL, &N); }
names(A) ::= names(B) COMMA NAME(N). { A = ast_names(p, B, &N); }

/* ---- let NAME = EXPR ---- */
stmt ::= LET(K) NAME(N) EQ expr(X). { ast_stmt_let(p, &K, &N, X); }

/* ---- NAME = EXPR: an output (sparsity, score) ---- */
stmt ::= NAME(N) EQ expr(X). { ast_stmt_out(p, &N, X); }

/* ---- Expressions ---- */
%type expr {struct alc_expr *}
expr(A) ::= LP(L) expr(X) RP(R).    { A = ast_paren(p, X, &L, &R); }
expr(A) ::= NUMBER(T).              { A = ast_number(p, &T); }
expr(A) ::= NAME(T).                { A = ast_name(p, &T); }
expr(A) ::= NAME(N) LP args(L) RP(R). { A = ast_call(p, &N, L, &R); }
expr(A) ::= NAME(N) LP RP(R).       { A = ast_call(p, &N, NULL, &R); }

expr(A) ::= MINUS(O) expr(X). [NEG] { A = ast_prefix(p, ALC_OP_NEG, &O, X); }
expr(A) ::= NOT(O) expr(X).         { A = ast_prefix(p, ALC_OP_NOT, &O, X); }

expr(A) ::= expr(X) OR(O) expr(Y).
    { A = ast_infix(p, ALC_OP_OR, X, &O, Y); }
expr(A) ::= expr(X) AND(O) expr(Y).
    { A = ast_infix(p, ALC_OP_AND, X, &O, Y); }
expr(A) ::= expr(X) LT(O) expr(Y).
    { A = ast_infix(p, ALC_OP_LT, X, &O, Y); }
expr(A) ::= expr(X) LE(O) expr(Y).
    { A = ast_infix(p, ALC_OP_LE, X, &O, Y); }
expr(A) ::= expr(X) GT(O) expr(Y).
    { A = ast_infix(p, ALC_OP_GT, X, &O, Y); }
expr(A) ::= expr(X) GE(O) expr(Y).
    { A = ast_infix(p, ALC_OP_GE, X, &O, Y); }
expr(A) ::= expr(X) EQEQ(O) expr(Y).
    { A = ast_infix(p, ALC_OP_EQ, X, &O, Y); }
expr(A) ::= expr(X) NE(O) expr(Y).
    { A = ast_infix(p, ALC_OP_NE, X, &O, Y); }
expr(A) ::= expr(X) PLUS(O) expr(Y).
    { A = ast_infix(p, ALC_OP_ADD, X, &O, Y); }
expr(A) ::= expr(X) MINUS(O) expr(Y).
    { A = ast_infix(p, ALC_OP_SUB, X, &O, Y); }
expr(A) ::= expr(X) STAR(O) expr(Y).
    { A = ast_infix(p, ALC_OP_MUL, X, &O, Y); }
expr(A) ::= expr(X) SLASH(O) expr(Y).
    { A = ast_infix(p, ALC_OP_DIV, X, &O, Y); }
expr(A) ::= expr(X) CARET(O) expr(Y).
    { A = ast_infix(p, ALC_OP_POW, X, &O, Y); }

/* ---- Call arguments (left recursion, doc/lemon.html 4.4.16) ---- */
%type args {struct alc_exprlist *}
args(A) ::= expr(X).               { A = ast_args(p, NULL, X); }
args(A) ::= args(B) COMMA expr(X). { A = ast_args(p, B, X); }

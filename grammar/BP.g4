// BP.g4: the grammar of .bp scripts.
//
// The lexer splits a whole file into tokens; the parser then reads one statement at a time (the driver finds
// where each starts, after NEWLINE or ';'), so a syntax error in one statement never hides errors in the next.
// Operator chains are flat lists (`factor (op factor)*`), not left-recursive rules: a 300,000-term sum is one
// parse-tree node with many children, not 300,000 nested ones. Only parentheses and calls nest.
grammar BP;

// One statement and what ends it. The driver positions the token stream at each statement's first token.
statementLine
    : statement (NEWLINE | SEMI | EOF)
    ;

statement
    : INPUT declName ('=' signedNumber)?          # inputStatement
    | PARAM declName '=' signedNumber             # paramStatement
    | NODE declName '=' expr                      # nodeStatement
    | OUTPUT outputName (',' outputName)*         # outputStatement
    | DEF declName '(' defParams? ')' '=' expr    # defStatement
    ;

defParams
    : declName (',' declName)*
    ;

// Keywords are accepted where a name is declared so that the front end can say "'input' is a reserved word"
// instead of a bare syntax error.
declName
    : ID | INPUT | PARAM | NODE | OUTPUT | DEF
    ;

outputName
    : ID | INPUT | PARAM | NODE | OUTPUT | DEF
    ;

signedNumber
    : sign=('-' | '+')? NUMBER
    ;

// expr: operands joined by binary operators, as one flat list; the front end applies precedence ('*' and '/'
// before '+' and '-', each left-associative). One rule for both levels keeps the parse tree of a long chain
// small: per operand, a factor, its primary and the tokens, nothing more.
expr
    : factor (binOp+=('+' | '-' | '*' | '/') factor)*
    ;

// factor: unary minus binds looser than '^' (-x^2 is -(x^2)); '^' chains are right-associative (a ^ b ^ c),
// and each exponent may carry its own unary minus (2^-1).
factor
    : negs+='-'* primary powerTail*
    ;

powerTail
    : '^' negs+='-'* primary
    ;

primary
    : NUMBER                                      # numberExpr
    | ID                                          # nameExpr
    | ID '(' (expr (',' expr)*)? ')'              # callExpr
    | '(' expr ')'                                # parenExpr
    ;

INPUT  : 'input' ;
PARAM  : 'param' ;
NODE   : 'node' ;
OUTPUT : 'output' ;
DEF    : 'def' ;

NUMBER
    : DIGIT+ ('.' DIGIT*)? EXPONENT?
    | '.' DIGIT+ EXPONENT?
    ;

// A number whose exponent has no digits (`1e`, `2.5e+`): one token, so the diagnostic can name it.
BAD_NUMBER
    : (DIGIT+ ('.' DIGIT*)? | '.' DIGIT+) [eE] [+-]?
    ;

ID : [a-zA-Z_] [a-zA-Z_0-9]* ;

SEMI    : ';' ;
NEWLINE : '\r'? '\n' | '\r' ;
COMMENT : '#' ~[\r\n]* -> skip ;
WS      : [ \t\f\u000B]+ -> skip ;

// Anything else: reported by the front end as "unexpected character".
UNKNOWN : . ;

fragment DIGIT    : [0-9] ;
fragment EXPONENT : [eE] [+-]? DIGIT+ ;

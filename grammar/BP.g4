// BP.g4: the grammar of .bp scripts.
//
// The lexer splits a whole file into tokens; the parser then reads one statement at a time (the driver finds
// where each starts, after NEWLINE or ';'), so a syntax error in one statement never hides errors in the next.
// A newline inside '(...)' or '[...]' does not end a statement (the driver drops it), so literals and
// expressions may span lines. Operator chains are flat lists (`factor (op factor)*`), not left-recursive
// rules: a 300,000-term sum is one parse-tree node with many children, not 300,000 nested ones. Only
// parentheses, brackets and calls nest.
grammar BP;

// One statement and what ends it. The driver positions the token stream at each statement's first token.
statementLine
    : statement (NEWLINE | SEMI | EOF)
    ;

// Scalar declarations take a number; shaped ones (`input X[1,3]`) a tensor initializer.
statement
    : INPUT declName ('=' signedNumber)?          # inputStatement
    | PARAM declName '=' signedNumber             # paramStatement
    | INPUT declName shape ('=' initializer)?     # tensorInputStatement
    | PARAM declName shape '=' initializer        # tensorParamStatement
    | NODE declName '=' expr                      # nodeStatement
    | OUTPUT outputName (',' outputName)*         # outputStatement
    | DEF declName '(' defParams? ')' '=' body=expr gradClause?  # defStatement
    ;

// A def's stated derivative: one partial per parameter, in parameter order (the front end checks the count).
gradClause
    : GRAD partials+=expr (',' partials+=expr)*
    ;

defParams
    : declName (',' declName)*
    ;

// Keywords are accepted where a name is declared so that the front end can say "'input' is a reserved word"
// instead of a bare syntax error.
declName
    : ID | INPUT | PARAM | NODE | OUTPUT | DEF | GRAD
    ;

outputName
    : ID | INPUT | PARAM | NODE | OUTPUT | DEF | GRAD
    ;

signedNumber
    : sign=('-' | '+')? NUMBER
    ;

// `[d1, ..., dk]`: the front end checks the rank (1 to 4) and that each dimension is a positive integer, so
// an empty or a negative one gets a message of its own.
shape
    : '[' (signedNumber (',' signedNumber)*)? ']'
    ;

// A tensor's initial value: one number for every element, a nested literal, or `normal(MEAN, STD)` /
// `uniform(LOW, HIGH)` (the front end checks the name and the argument count).
initializer
    : signedNumber                                          # fillInit
    | tensorLiteral                                         # literalInit
    | ID '(' (signedNumber (',' signedNumber)*)? ')'        # randomInit
    ;

tensorLiteral
    : '[' (literalItem (',' literalItem)*)? ']'
    ;

literalItem
    : signedNumber
    | tensorLiteral
    ;

// expr: operands joined by binary operators, as one flat list; the front end applies precedence ('*', '/'
// and '@' before '+' and '-', each left-associative; comparisons last, and they do not chain). One rule for
// every level keeps the parse tree of a long chain small: per operand, a factor, its primary and the tokens.
expr
    : factor (binOp+=('+' | '-' | '*' | '/' | '@' | '<' | '<=' | '>' | '>=' | '==' | '!=') factor)*
    ;

// factor: unary minus binds looser than '^' (-x^2 is -(x^2)); '^' chains are right-associative (a ^ b ^ c),
// and each exponent may carry its own unary minus (2^-1).
factor
    : negs+='-'* postfix powerTail*
    ;

powerTail
    : '^' negs+='-'* postfix
    ;

// Indexing binds tightest: -x[0] ^ 2 is -((x[0]) ^ 2). One index list per primary (x[0, 1], not x[0][1]).
postfix
    : primary ('[' index (',' index)* ']')?
    ;

// An index: an expression, or a slice `a:b`, `:b`, `a:`, `:` (the front end checks that bounds are integer
// literals).
index
    : lo=expr (colon=':' hi=expr?)?               # indexOrSlice
    | colon=':' hi=expr?                          # openSlice
    ;

primary
    : NUMBER                                      # numberExpr
    | ID                                          # nameExpr
    | ID '(' (argument (',' argument)*)? ')'      # callExpr
    | '(' expr ')'                                # parenExpr
    ;

// A call's argument: an expression, or a keyword argument `axis=K` (the front end checks the keyword, its
// value, and that it comes after the positional arguments).
argument
    : ID equals='=' expr                          # keywordArgument
    | expr                                        # positionalArgument
    ;

INPUT  : 'input' ;
PARAM  : 'param' ;
NODE   : 'node' ;
OUTPUT : 'output' ;
DEF    : 'def' ;
GRAD   : 'grad' ;

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

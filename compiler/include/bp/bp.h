/* bp.h: the C API of the bp library: compile a script in this process and call its functions.
 *
 *   bp_model *model;
 *   bp_error *error;
 *   if (bp_compile_string("input a = 5\ninput b = -6\nnode f = a * b\noutput f\n", "ab.bp", NULL, &model,
 *                         &error) != BP_OK) {
 *     fputs(bp_error_message(error), stderr);   // "ab.bp:LINE:COL: error: ...", the line, a caret
 *     bp_error_free(error);
 *     return 1;
 *   }
 *   double in[2], out[1], grad[2];
 *   bp_model_defaults(model, in, 2);
 *   bp_model_gradient(model, in, 2, out, 1, grad, 2);  // out[0] = -30, grad = {-6, 5}
 *   bp_model_free(model);
 *
 * C99, no global state. Every function that can fail returns a bp_status and never aborts: a null handle or
 * pointer, an index out of range and an array of the wrong length are statuses, not crashes. The few that
 * cannot fail (the free functions, which accept NULL, and those that return text) return nothing or a string.
 *
 * Layout: `in` holds every input, then every param, each in declaration order and each tensor row-major;
 * `out` every output; `grad` is row-major [grad rows][grad columns], a row per element of each differentiated
 * output and a column per element of each argument it is differentiated by (every output by every argument
 * unless options choose some).
 *
 * Threads: bp_model_forward and bp_model_gradient keep no state, so any number of threads may call them on one
 * model at once; so may the functions that describe a model. Compiling and freeing are not to overlap with
 * other calls on the same model.
 */
#ifndef BP_BP_H
#define BP_BP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this API: functions are only ever added under one major version. */
#define BP_API_VERSION_MAJOR 1
#define BP_API_VERSION_MINOR 0

/* The largest rank of an argument or output: an array of BP_MAX_RANK holds any shape. */
#define BP_MAX_RANK 4

typedef enum bp_status {
  BP_OK = 0,
  BP_ERROR_INVALID_ARGUMENT = 1, /* a null handle or pointer, an index out of range, a bad option value */
  BP_ERROR_COMPILE = 2,          /* the script did not compile (or could not be read): see the bp_error */
  BP_ERROR_SIZE_MISMATCH = 3,    /* an array's length is not the model's */
  BP_ERROR_NO_GRADIENT = 4,      /* the model was compiled without its gradient */
  BP_ERROR_NOT_FOUND = 5,        /* no argument or output of that name; not differentiated */
  BP_STATUS_MAX_ENUM = 0x7fffffff /* never returned: keeps the type 32 bits wide and any int in range */
} bp_status;

typedef enum bp_arg_kind { BP_ARG_INPUT = 0, BP_ARG_PARAM = 1 } bp_arg_kind;

typedef struct bp_model bp_model;     /* a compiled script */
typedef struct bp_options bp_options; /* how to compile; NULL means the defaults */
typedef struct bp_error bp_error;     /* why a compile failed */

/* "0.1.0": the library's version. */
const char *bp_version(void);
/* A lower-case phrase for a status ("the array's length is not the model's"). */
const char *bp_status_message(bp_status status);

/* --- options: -O2, the gradient of every output by every argument, seed 0 until set -------------------- */
bp_status bp_options_create(bp_options **options);
bp_status bp_options_set_opt_level(bp_options *options, int level); /* 0 to 3 */
bp_status bp_options_set_gradient(bp_options *options, int gradient); /* 0: compile the forward function alone */
/* Differentiate this output (bpc's --of), or by this input or param (--wrt); each call adds one name. */
bp_status bp_options_add_of(bp_options *options, const char *output);
bp_status bp_options_add_wrt(bp_options *options, const char *argument);
bp_status bp_options_set_seed(bp_options *options, uint64_t seed); /* normal() and uniform() initializers */
void bp_options_free(bp_options *options);

/* --- compiling ----------------------------------------------------------------------------------------- */
/* Compiles `source` (UTF-8 text), named `name` in diagnostics (NULL: "<script>"). On success *model is the
 * model and *error NULL; on failure *model is NULL and *error (if `error` is not NULL) holds the message: for a
 * bad script every diagnostic as bpc prints it, "name:line:col: error: ...", the line and a caret. */
bp_status bp_compile_string(const char *source, const char *name, const bp_options *options, bp_model **model,
                            bp_error **error);
/* The same for the script at `path`. */
bp_status bp_compile_file(const char *path, const bp_options *options, bp_model **model, bp_error **error);
void bp_model_free(bp_model *model);

/* The message (NUL-terminated, ending in a newline), valid until bp_error_free; "" for NULL. */
const char *bp_error_message(const bp_error *error);
void bp_error_free(bp_error *error);

/* --- what a model takes and gives -------------------------------------------------------------------------- */
/* Numbers of doubles in `in`, `out` and `grad` (grad: 0 for a model compiled without its gradient). */
bp_status bp_model_in_size(const bp_model *model, size_t *size);
bp_status bp_model_out_size(const bp_model *model, size_t *size);
bp_status bp_model_grad_size(const bp_model *model, size_t *size);
bp_status bp_model_grad_rows(const bp_model *model, size_t *rows);
bp_status bp_model_grad_cols(const bp_model *model, size_t *cols);

/* Arguments (inputs, then params), by index from 0. The name stays valid as long as the model. */
bp_status bp_model_num_args(const bp_model *model, size_t *count);
bp_status bp_model_arg_index(const bp_model *model, const char *name, size_t *index); /* BP_ERROR_NOT_FOUND */
bp_status bp_model_arg_name(const bp_model *model, size_t index, const char **name);
bp_status bp_model_arg_kind(const bp_model *model, size_t index, bp_arg_kind *kind);
bp_status bp_model_arg_rank(const bp_model *model, size_t index, size_t *rank); /* 0 for a scalar */
/* Copies the shape's `rank` dimensions to shape[0..rank); BP_ERROR_SIZE_MISMATCH if shape_len < rank. */
bp_status bp_model_arg_shape(const bp_model *model, size_t index, int64_t *shape, size_t shape_len);
bp_status bp_model_arg_size(const bp_model *model, size_t index, size_t *size);     /* elements */
bp_status bp_model_arg_offset(const bp_model *model, size_t index, size_t *offset); /* first element in `in` */
/* 0 for an input declared without a value (bp_model_defaults gives it zeros), else 1. */
bp_status bp_model_arg_has_default(const bp_model *model, size_t index, int *has_default);
/* Its first column in `grad`; BP_ERROR_NOT_FOUND if the model is not differentiated by it. */
bp_status bp_model_arg_grad_col(const bp_model *model, size_t index, size_t *col);

/* Outputs, likewise; an output's offset is in `out`, and its elements take a row of `grad` each. */
bp_status bp_model_num_outputs(const bp_model *model, size_t *count);
bp_status bp_model_output_index(const bp_model *model, const char *name, size_t *index);
bp_status bp_model_output_name(const bp_model *model, size_t index, const char **name);
bp_status bp_model_output_rank(const bp_model *model, size_t index, size_t *rank);
bp_status bp_model_output_shape(const bp_model *model, size_t index, int64_t *shape, size_t shape_len);
bp_status bp_model_output_size(const bp_model *model, size_t index, size_t *size);
bp_status bp_model_output_offset(const bp_model *model, size_t index, size_t *offset);
/* Its first row in `grad`; BP_ERROR_NOT_FOUND if the model does not differentiate it. */
bp_status bp_model_output_grad_row(const bp_model *model, size_t index, size_t *row);

/* --- calling it -------------------------------------------------------------------------------------------- */
/* Fills in[0..in_len) with the script's values (0 for an input declared without one); in_len must be the
 * model's in size. */
bp_status bp_model_defaults(const bp_model *model, double *in, size_t in_len);
/* Every output at `in`. Each length must equal the model's size (else BP_ERROR_SIZE_MISMATCH and nothing is
 * written); an array of length 0 may be NULL. */
bp_status bp_model_forward(const bp_model *model, const double *in, size_t in_len, double *out, size_t out_len);
/* Every output and the gradient at `in`. */
bp_status bp_model_gradient(const bp_model *model, const double *in, size_t in_len, double *out, size_t out_len,
                            double *grad, size_t grad_len);

#ifdef __cplusplus
}
#endif

#endif /* BP_BP_H */

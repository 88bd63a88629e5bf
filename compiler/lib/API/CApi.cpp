//===- CApi.cpp - bp.h, the C API, over bp::Model --------------------------===//
//
// Every entry point guards its handles, pointers, indices and lengths before it touches them and answers with
// a bp_status; failures inside the library arrive as llvm::Error and become a bp_error's text.
//
//===----------------------------------------------------------------------===//
#include "bp/bp.h"
#include "bp/Model.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

struct bp_model {
  bp::Model model;
};

struct bp_options {
  bp::CompileOptions options;
};

struct bp_error {
  std::string message;
};

namespace {

/// Hands `message` to the caller through `error` (when it asked for it) and returns `status`.
bp_status fail(bp_status status, std::string message, bp_error **error) {
  if (error) {
    if (message.empty() || message.back() != '\n')
      message += '\n';
    *error = new bp_error{std::move(message)};
  }
  return status;
}

/// A compile's result through the out-parameters: the model, or its error's text.
bp_status finishCompile(llvm::Expected<bp::Model> compiled, bp_model **model, bp_error **error) {
  if (!compiled)
    return fail(BP_ERROR_COMPILE, llvm::toString(compiled.takeError()), error);
  *model = new bp_model{std::move(*compiled)};
  return BP_OK;
}

/// Clears the out-parameters of a compile, or says that `model` is null.
bp_status startCompile(bp_model **model, bp_error **error) {
  if (error)
    *error = nullptr;
  if (!model)
    return fail(BP_ERROR_INVALID_ARGUMENT, "error: the model's out-parameter is null", error);
  *model = nullptr;
  return BP_OK;
}

const bp::CompileOptions &optionsOf(const bp_options *options) {
  static const bp::CompileOptions defaults;
  return options ? options->options : defaults;
}

/// Entry #index of `list` (null: the model was null) given to `get`, which sets `*result` and returns the status.
template <typename Info, typename Result, typename Get>
bp_status describe(const std::vector<Info> *list, size_t index, Result *result, Get get) {
  if (!list || !result || index >= list->size())
    return BP_ERROR_INVALID_ARGUMENT;
  return get((*list)[index], *result);
}

const std::vector<bp::ArgumentInfo> *argumentsOf(const bp_model *model) {
  return model ? &model->model.arguments() : nullptr;
}

const std::vector<bp::OutputInfo> *outputsOf(const bp_model *model) {
  return model ? &model->model.outputs() : nullptr;
}

/// The position of the entry called `name` in `list` (null: the model was null).
template <typename Info> bp_status indexOf(const std::vector<Info> *list, const char *name, size_t *index) {
  if (!list || !name || !index)
    return BP_ERROR_INVALID_ARGUMENT;
  for (size_t i = 0; i < list->size(); ++i)
    if ((*list)[i].name == name) {
      *index = i;
      return BP_OK;
    }
  return BP_ERROR_NOT_FOUND;
}

/// describe for a `get` that cannot fail: it returns the result.
template <typename Info, typename Result, typename Get>
bp_status readValue(const std::vector<Info> *list, size_t index, Result *result, Get get) {
  return describe(list, index, result, [&](const Info &info, Result &out) {
    out = get(info);
    return BP_OK;
  });
}

// What arguments and outputs share (ValueInfo), read the same way from either list.
const char *nameOf(const bp::ValueInfo &value) { return value.name.c_str(); }
size_t rankOf(const bp::ValueInfo &value) { return value.shape.size(); }
size_t sizeOf(const bp::ValueInfo &value) { return value.size; }
size_t offsetOf(const bp::ValueInfo &value) { return value.offset; }

/// Copies the shape's dimensions to shape[0..rank), if `length` holds them.
template <typename Info>
bp_status copyShape(const std::vector<Info> *list, size_t index, int64_t *shape, size_t length) {
  return describe(list, index, shape, [&](const bp::ValueInfo &value, int64_t &first) {
    if (length < value.shape.size())
      return BP_ERROR_SIZE_MISMATCH;
    std::copy(value.shape.begin(), value.shape.end(), &first);
    return BP_OK;
  });
}

template <typename Info> bp_status countOf(const std::vector<Info> *list, size_t *count) {
  if (!list || !count)
    return BP_ERROR_INVALID_ARGUMENT;
  *count = list->size();
  return BP_OK;
}

bp_status someOrNotFound(std::optional<size_t> value, size_t &result) {
  if (!value)
    return BP_ERROR_NOT_FOUND;
  result = *value;
  return BP_OK;
}

/// Guards one array a call reads or writes: `length` must be `expected`, and the pointer non-null unless both
/// are 0.
bp_status checkArray(const double *array, size_t length, size_t expected) {
  if (length != expected)
    return BP_ERROR_SIZE_MISMATCH;
  return array || length == 0 ? BP_OK : BP_ERROR_INVALID_ARGUMENT;
}

bp_status modelSize(const bp_model *model, size_t *size, size_t (bp::Model::*get)() const) {
  if (!model || !size)
    return BP_ERROR_INVALID_ARGUMENT;
  *size = (model->model.*get)();
  return BP_OK;
}

} // namespace

extern "C" {

const char *bp_version(void) { return BP_VERSION_STRING; }

const char *bp_status_message(bp_status status) {
  switch (status) {
  case BP_OK:
    return "success";
  case BP_ERROR_INVALID_ARGUMENT:
    return "a null handle or pointer, an index out of range or a bad option value";
  case BP_ERROR_COMPILE:
    return "the script did not compile";
  case BP_ERROR_SIZE_MISMATCH:
    return "the array's length is not the model's";
  case BP_ERROR_NO_GRADIENT:
    return "the model was compiled without its gradient";
  case BP_ERROR_NOT_FOUND:
    return "no such name, or not differentiated";
  case BP_STATUS_MAX_ENUM:
    break;
  }
  return "unknown status";
}

bp_status bp_options_create(bp_options **options) {
  if (!options)
    return BP_ERROR_INVALID_ARGUMENT;
  *options = new bp_options();
  return BP_OK;
}

bp_status bp_options_set_opt_level(bp_options *options, int level) {
  if (!options || level < 0 || level > 3)
    return BP_ERROR_INVALID_ARGUMENT;
  options->options.optLevel = static_cast<unsigned>(level);
  return BP_OK;
}

bp_status bp_options_set_gradient(bp_options *options, int gradient) {
  if (!options)
    return BP_ERROR_INVALID_ARGUMENT;
  options->options.gradient = gradient != 0;
  return BP_OK;
}

bp_status bp_options_add_of(bp_options *options, const char *output) {
  if (!options || !output)
    return BP_ERROR_INVALID_ARGUMENT;
  options->options.of.emplace_back(output);
  return BP_OK;
}

bp_status bp_options_add_wrt(bp_options *options, const char *argument) {
  if (!options || !argument)
    return BP_ERROR_INVALID_ARGUMENT;
  options->options.wrt.emplace_back(argument);
  return BP_OK;
}

bp_status bp_options_set_seed(bp_options *options, uint64_t seed) {
  if (!options)
    return BP_ERROR_INVALID_ARGUMENT;
  options->options.seed = seed;
  return BP_OK;
}

void bp_options_free(bp_options *options) { delete options; }

bp_status bp_compile_string(const char *source, const char *name, const bp_options *options, bp_model **model,
                            bp_error **error) {
  if (bp_status status = startCompile(model, error))
    return status;
  if (!source)
    return fail(BP_ERROR_INVALID_ARGUMENT, "error: the source is null", error);
  bp::CompileOptions chosen = optionsOf(options);
  if (name)
    chosen.name = name;
  return finishCompile(bp::Model::compile(source, chosen), model, error);
}

bp_status bp_compile_file(const char *path, const bp_options *options, bp_model **model, bp_error **error) {
  if (bp_status status = startCompile(model, error))
    return status;
  if (!path)
    return fail(BP_ERROR_INVALID_ARGUMENT, "error: the path is null", error);
  return finishCompile(bp::Model::compileFile(path, optionsOf(options)), model, error);
}

void bp_model_free(bp_model *model) { delete model; }

const char *bp_error_message(const bp_error *error) { return error ? error->message.c_str() : ""; }

void bp_error_free(bp_error *error) { delete error; }

bp_status bp_model_in_size(const bp_model *model, size_t *size) { return modelSize(model, size, &bp::Model::inSize); }
bp_status bp_model_out_size(const bp_model *model, size_t *size) { return modelSize(model, size, &bp::Model::outSize); }
bp_status bp_model_grad_size(const bp_model *model, size_t *size) {
  return modelSize(model, size, &bp::Model::gradSize);
}
bp_status bp_model_grad_rows(const bp_model *model, size_t *rows) {
  return modelSize(model, rows, &bp::Model::gradRows);
}
bp_status bp_model_grad_cols(const bp_model *model, size_t *cols) {
  return modelSize(model, cols, &bp::Model::gradColumns);
}

bp_status bp_model_num_args(const bp_model *model, size_t *count) {
  return countOf(argumentsOf(model), count);
}

bp_status bp_model_arg_index(const bp_model *model, const char *name, size_t *index) {
  return indexOf(argumentsOf(model), name, index);
}

bp_status bp_model_arg_name(const bp_model *model, size_t index, const char **name) {
  return readValue(argumentsOf(model), index, name, nameOf);
}

bp_status bp_model_arg_kind(const bp_model *model, size_t index, bp_arg_kind *kind) {
  return readValue(argumentsOf(model), index, kind, [](const bp::ArgumentInfo &argument) {
    return argument.kind == bp::ArgumentKind::Param ? BP_ARG_PARAM : BP_ARG_INPUT;
  });
}

bp_status bp_model_arg_rank(const bp_model *model, size_t index, size_t *rank) {
  return readValue(argumentsOf(model), index, rank, rankOf);
}

bp_status bp_model_arg_shape(const bp_model *model, size_t index, int64_t *shape, size_t shape_len) {
  return copyShape(argumentsOf(model), index, shape, shape_len);
}

bp_status bp_model_arg_size(const bp_model *model, size_t index, size_t *size) {
  return readValue(argumentsOf(model), index, size, sizeOf);
}

bp_status bp_model_arg_offset(const bp_model *model, size_t index, size_t *offset) {
  return readValue(argumentsOf(model), index, offset, offsetOf);
}

bp_status bp_model_arg_has_default(const bp_model *model, size_t index, int *has_default) {
  return readValue(argumentsOf(model), index, has_default,
              [](const bp::ArgumentInfo &argument) { return argument.hasDefault ? 1 : 0; });
}

bp_status bp_model_arg_grad_col(const bp_model *model, size_t index, size_t *col) {
  return describe(argumentsOf(model), index, col, [](const bp::ArgumentInfo &argument, size_t &result) {
    return someOrNotFound(argument.gradColumn, result);
  });
}

bp_status bp_model_num_outputs(const bp_model *model, size_t *count) {
  return countOf(outputsOf(model), count);
}

bp_status bp_model_output_index(const bp_model *model, const char *name, size_t *index) {
  return indexOf(outputsOf(model), name, index);
}

bp_status bp_model_output_name(const bp_model *model, size_t index, const char **name) {
  return readValue(outputsOf(model), index, name, nameOf);
}

bp_status bp_model_output_rank(const bp_model *model, size_t index, size_t *rank) {
  return readValue(outputsOf(model), index, rank, rankOf);
}

bp_status bp_model_output_shape(const bp_model *model, size_t index, int64_t *shape, size_t shape_len) {
  return copyShape(outputsOf(model), index, shape, shape_len);
}

bp_status bp_model_output_size(const bp_model *model, size_t index, size_t *size) {
  return readValue(outputsOf(model), index, size, sizeOf);
}

bp_status bp_model_output_offset(const bp_model *model, size_t index, size_t *offset) {
  return readValue(outputsOf(model), index, offset, offsetOf);
}

bp_status bp_model_output_grad_row(const bp_model *model, size_t index, size_t *row) {
  return describe(outputsOf(model), index, row, [](const bp::OutputInfo &output, size_t &result) {
    return someOrNotFound(output.gradRow, result);
  });
}

bp_status bp_model_defaults(const bp_model *model, double *in, size_t in_len) {
  if (!model)
    return BP_ERROR_INVALID_ARGUMENT;
  const std::vector<double> &defaults = model->model.defaults();
  if (bp_status status = checkArray(in, in_len, defaults.size()))
    return status;
  std::copy(defaults.begin(), defaults.end(), in);
  return BP_OK;
}

bp_status bp_model_forward(const bp_model *model, const double *in, size_t in_len, double *out, size_t out_len) {
  if (!model)
    return BP_ERROR_INVALID_ARGUMENT;
  if (bp_status status = checkArray(in, in_len, model->model.inSize()))
    return status;
  if (bp_status status = checkArray(out, out_len, model->model.outSize()))
    return status;
  model->model.forward(in, out);
  return BP_OK;
}

bp_status bp_model_gradient(const bp_model *model, const double *in, size_t in_len, double *out, size_t out_len,
                            double *grad, size_t grad_len) {
  if (!model)
    return BP_ERROR_INVALID_ARGUMENT;
  if (!model->model.hasGradient())
    return BP_ERROR_NO_GRADIENT;
  if (bp_status status = checkArray(in, in_len, model->model.inSize()))
    return status;
  if (bp_status status = checkArray(out, out_len, model->model.outSize()))
    return status;
  if (bp_status status = checkArray(grad, grad_len, model->model.gradSize()))
    return status;
  model->model.gradient(in, out, grad);
  return BP_OK;
}

} // extern "C"

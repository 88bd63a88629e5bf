/* load-shared.c: loads a shared object of bpc build --shared without its header. bp_prefix() names the prefix;
 * the metadata functions give the arrays' layouts, the script's values and grad[]'s layout; the program prints
 * them, evaluates PREFIX_forward and PREFIX_gradient at the script's values, checks that every function
 * PREFIX_functions() lists is there, and that an index out of range gives NULL or -1.
 * Usage: load-shared LIBRARY.so [PREFIX]: with PREFIX (an object of bpc build --metadata, linked by cc -shared),
 * the library has no bp_prefix(). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*Function)(void);
typedef long (*Count)(void);
typedef long (*LongAt)(long);
typedef int (*IntAt)(long);
typedef const char *(*Text)(void);
typedef const char *(*TextAt)(long);
typedef const long *(*ShapeAt)(long);
typedef const double *(*Doubles)(void);
typedef void (*Forward)(const double *, double *);
typedef void (*Gradient)(const double *, double *, double *);

static void *library;
static const char *prefix;

/* PREFIX_name, or NULL. */
static Function lookup(const char *name) {
  char symbol[256];
  void *address;
  Function function;
  snprintf(symbol, sizeof symbol, "%s_%s", prefix, name);
  address = dlsym(library, symbol);
  memcpy(&function, &address, sizeof function);
  return function;
}

static Function find(const char *name) {
  Function function = lookup(name);
  if (!function) {
    fprintf(stderr, "load-shared: no %s_%s\n", prefix, name);
    exit(1);
  }
  return function;
}

/* PREFIX_KIND_name (KIND "arg" or "out"). */
static Function part(const char *kind, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "%s_%s", kind, name);
  return find(full);
}

static void printDoubles(const char *label, const double *values, long count) {
  long i;
  printf("%s", label);
  for (i = 0; i < count; ++i)
    printf(" %.17g", values[i]);
  printf("\n");
}

/* Each argument ("arg") or output ("out"): name, kind, rank, shape, offset, its first grad column or row. */
static void describe(const char *kind, long count) {
  TextAt name = (TextAt)part(kind, "name");
  LongAt rank = (LongAt)part(kind, "rank"), offset = (LongAt)part(kind, "offset");
  ShapeAt shape = (ShapeAt)part(kind, "shape");
  LongAt grad = (LongAt)(strcmp(kind, "arg") == 0 ? find("arg_grad_col") : find("out_grad_row"));
  IntAt argKind = (IntAt)find("arg_kind");
  long i, d;
  for (i = 0; i < count; ++i) {
    printf("%s %ld: %s", kind, i, name(i));
    if (strcmp(kind, "arg") == 0)
      printf(" %s", argKind(i) == 0 ? "input" : argKind(i) == 1 ? "param" : "?");
    printf(" rank %ld shape [", rank(i));
    for (d = 0; d < rank(i); ++d)
      printf("%s%ld", d ? "," : "", shape(i)[d]);
    printf("] offset %ld grad %ld\n", offset(i), grad(i));
  }
  /* Out of range on both sides. */
  for (i = -1; i <= count; i += count + 1) {
    printf("%s %ld: %s %ld %s %ld %ld", kind, i, name(i) ? "name" : "NULL", rank(i), shape(i) ? "shape" : "NULL",
           offset(i), grad(i));
    if (strcmp(kind, "arg") == 0)
      printf(" %d", argKind(i));
    printf("\n");
  }
}

int main(int argc, char **argv) {
  Text bpPrefix;
  void *address;
  long numArgs, numOutputs, inSize, outSize, rows, cols, r;
  const char *functions, *start;
  double *in, *out, *grad;
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: load-shared LIBRARY.so [PREFIX]\n");
    return 2;
  }
  library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    fprintf(stderr, "load-shared: %s\n", dlerror());
    return 1;
  }
  address = dlsym(library, "bp_prefix");
  if (argc == 3) {
    prefix = argv[2];
    printf("bp_prefix: %s\n", address ? "yes" : "none");
  } else if (!address) {
    fprintf(stderr, "load-shared: no bp_prefix\n");
    return 1;
  } else {
    memcpy(&bpPrefix, &address, sizeof bpPrefix);
    prefix = bpPrefix();
  }
  printf("prefix %s, bp %s\n", prefix, ((Text)find("bp_version"))());
  functions = ((Text)find("functions"))();
  printf("functions %s\n", functions);
  /* Every function listed is there. */
  for (start = functions; *start;) {
    char name[32];
    size_t length = strcspn(start, ",");
    snprintf(name, sizeof name, "%.*s", (int)length, start);
    if (!lookup(name))
      printf("missing %s\n", name);
    start += length + (start[length] == ',');
  }
  numArgs = ((Count)find("num_args"))();
  numOutputs = ((Count)find("num_outputs"))();
  inSize = ((Count)find("in_size"))();
  outSize = ((Count)find("out_size"))();
  rows = ((Count)find("grad_rows"))();
  cols = ((Count)find("grad_cols"))();
  printf("args %ld (in %ld), outputs %ld (out %ld), grad %ld x %ld\n", numArgs, inSize, numOutputs, outSize, rows,
         cols);
  describe("arg", numArgs);
  describe("out", numOutputs);
  printDoubles("defaults", ((Doubles)find("defaults"))(), inSize);

  in = malloc(sizeof(double) * (inSize + 1));
  out = malloc(sizeof(double) * (outSize + 1));
  grad = malloc(sizeof(double) * (rows * cols + 1));
  memcpy(in, ((Doubles)find("defaults"))(), sizeof(double) * inSize);
  ((Forward)find("forward"))(in, out);
  printDoubles("forward", out, outSize);
  if (lookup("gradient")) {
    ((Gradient)find("gradient"))(in, out, grad);
    for (r = 0; r < rows; ++r)
      printDoubles("gradient", grad + r * cols, cols);
  }
  free(in);
  free(out);
  free(grad);
  dlclose(library);
  return 0;
}

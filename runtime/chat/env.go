package chat

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/builtins/methods"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/parser"
)

// environment is gonja's stock environment with what Hugging Face's
// chat-template environment has and gonja lacks or does differently:
//
//   - filter tojson: Python's json.dumps with HF's signature
//     tojson(ensure_ascii=False, indent=None, separators=None,
//     sort_keys=False): ", "/": " separators, insertion-ordered keys, no
//     HTML or ASCII escaping (gonja's is compact, sorted and escapes "'").
//   - filter trim: Python's str.strip(chars) (whitespace as Python defines it).
//   - tests true/false: identity with True/False, as in Jinja (gonja's
//     "false" is true for any falsy value, including an undefined variable).
//   - str methods strip/lstrip/rstrip/split/rsplit/startswith/endswith/
//     replace: Python semantics (see pystr.go).
//   - dict methods items/keys/values/get: insertion order (gonja converts
//     the mapping to a Go map first and sorts the keys).
//   - filter format: Python's "%s" % args (gonja's uses Go's fmt verbs).
//   - tag {% generation %}: HF's assistant-mask marker, rendered as its body.
//   - dict(): keyword arguments in sorted key order (gonja's order is random;
//     Python keeps call order, which gonja does not record).
//
// raise_exception, strftime_now and the special tokens are per-render
// variables (see Render). The shared sets below are only read after init.
var environment = newEnvironment()

func newEnvironment() *exec.Environment {
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	mustDo(filters.Replace("tojson", filterToJSON))
	mustDo(filters.Replace("trim", filterTrim))
	mustDo(filters.Replace("format", filterFormat))

	tests := exec.NewTestSet(map[string]exec.TestFunction{}).Update(builtins.Tests)
	mustDo(tests.Replace("true", identityTest(true)))
	mustDo(tests.Replace("false", identityTest(false)))

	ctx := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	ctx.Set("dict", dictFunction)

	controls := exec.NewControlStructureSet(map[string]parser.ControlStructureParser{}).
		Update(builtins.ControlStructures)
	mustDo(controls.Register("generation", parseGeneration))

	return &exec.Environment{
		Context:           ctx,
		Filters:           filters,
		Tests:             tests,
		ControlStructures: controls,
		Methods: exec.Methods{
			Bool:  methods.All.Bool,
			Int:   methods.All.Int,
			Float: methods.All.Float,
			Str:   strMethods(),
			Dict:  dictMethods(),
			List:  methods.All.List,
		},
	}
}

func mustDo(err error) {
	if err != nil {
		panic(fmt.Sprintf("chat: set up template environment: %v", err))
	}
}

// pyStrMethodNames are the str methods gonja may provide; they are carried
// over before the Python-exact replacements are put in.
var pyStrMethodNames = []string{
	"capitalize", "capwords", "casefold", "center", "count", "encode", "endswith",
	"expandtabs", "find", "format", "format_map", "index", "isalnum", "isalpha",
	"isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
	"isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
	"lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind",
	"rindex", "rjust", "rpartition", "rsplit", "rstrip", "split", "splitlines",
	"startswith", "strip", "swapcase", "title", "upper", "zfill",
}

func strMethods() *exec.MethodSet[string] {
	m := map[string]exec.Method[string]{}
	for _, name := range pyStrMethodNames {
		if fn, ok := methods.All.Str.Get(name); ok {
			m[name] = fn
		}
	}
	m["strip"] = stripMethod("strip", true, true)
	m["lstrip"] = stripMethod("lstrip", true, false)
	m["rstrip"] = stripMethod("rstrip", false, true)
	m["split"] = splitMethod("split", false)
	m["rsplit"] = splitMethod("rsplit", true)
	m["startswith"] = affixMethod(false)
	m["endswith"] = affixMethod(true)
	m["replace"] = replaceMethod
	return exec.NewMethodSet(m)
}

type dictMethod = exec.Method[map[string]any]

func dictMethods() *exec.MethodSet[map[string]any] {
	m := map[string]dictMethod{}
	for _, name := range []string{"pop", "setdefault", "update", "copy", "clear"} {
		if fn, ok := methods.All.Dict.Get(name); ok {
			m[name] = fn
		}
	}
	m["items"] = func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs("items", args); err != nil {
			return nil, err
		}
		keys, vals := dictEntries(self)
		out := make(pyList, len(keys))
		for i := range keys {
			out[i] = pyList{keys[i].Interface(), vals[i].Interface()}
		}
		return out, nil
	}
	m["keys"] = func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs("keys", args); err != nil {
			return nil, err
		}
		keys, _ := dictEntries(self)
		return valuesToAny(keys), nil
	}
	m["values"] = func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs("values", args); err != nil {
			return nil, err
		}
		_, vals := dictEntries(self)
		return valuesToAny(vals), nil
	}
	m["get"] = func(_ map[string]any, self *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs("get", args, "key", "default"); err != nil {
			return nil, err
		}
		key := argAt(args, 0, "key")
		if key == nil {
			return nil, errors.New("get() takes at least 1 argument")
		}
		keys, vals := dictEntries(self)
		for i, k := range keys {
			if k.EqualValueTo(key) {
				return vals[i].Interface(), nil
			}
		}
		if def := argAt(args, 1, "default"); def != nil {
			return def.Interface(), nil
		}
		return nil, nil
	}
	return exec.NewMethodSet(m)
}

func valuesToAny(vs []*exec.Value) pyList {
	out := make(pyList, len(vs))
	for i, v := range vs {
		out[i] = v.Interface()
	}
	return out
}

// filterToJSON is HF's tojson:
//
//	def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
//	    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
//	                      separators=separators, sort_keys=sort_keys)
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	out, err := toJSON(in, params)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsSafeValue(out)
}

func toJSON(in *exec.Value, params *exec.VarArgs) (string, error) {
	if err := checkArgs("tojson", params, "ensure_ascii", "indent", "separators", "sort_keys"); err != nil {
		return "", err
	}
	o := dumpOptions{itemSep: ", ", keySep: ": "}
	if v := argAt(params, 0, "ensure_ascii"); v != nil {
		o.ascii = v.IsTrue()
	}
	if v := argAt(params, 1, "indent"); v != nil && !v.IsNil() {
		var ind string
		switch {
		case v.IsInteger():
			ind = strings.Repeat(" ", max(v.Integer(), 0))
		case v.IsString():
			ind = v.String()
		default:
			return "", fmt.Errorf("tojson: indent must be an integer or a string, not %s", v.String())
		}
		o.indent = &ind
		o.itemSep = ","
	}
	if v := argAt(params, 2, "separators"); v != nil && !v.IsNil() {
		if !v.IsList() || v.Len() != 2 || !v.Index(0).IsString() || !v.Index(1).IsString() {
			return "", fmt.Errorf("tojson: separators must be a pair of strings, not %s", v.String())
		}
		o.itemSep, o.keySep = v.Index(0).String(), v.Index(1).String()
	}
	if v := argAt(params, 3, "sort_keys"); v != nil {
		o.sortKeys = v.IsTrue()
	}
	return pyDumps(in, o)
}

// filterTrim is Jinja's trim: str(value).strip(chars).
func filterTrim(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if err := checkArgs("trim", params, "chars"); err != nil {
		return exec.AsValue(err)
	}
	chars, err := optString("trim", argAt(params, 0, "chars"))
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(pyStrip(in.String(), chars, true, true))
}

// filterFormat is Jinja's format filter: value % args.
func filterFormat(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	if len(params.KwArgs) > 0 {
		return exec.AsValue(errors.New("format: keyword arguments are not supported"))
	}
	out, err := pyPercentFormat(in.String(), params.Args)
	if err != nil {
		return exec.AsValue(err)
	}
	return exec.AsValue(out)
}

func identityTest(want bool) func(*exec.Context, *exec.Value, *exec.VarArgs) (bool, error) {
	return func(_ *exec.Context, in *exec.Value, _ *exec.VarArgs) (bool, error) {
		return in.IsBool() && in.Bool() == want, nil
	}
}

func dictFunction(_ *exec.Evaluator, params *exec.VarArgs) *exec.Value {
	keys := make([]string, 0, len(params.KwArgs))
	for k := range params.KwArgs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := newDict()
	for _, k := range keys {
		d.set(k, params.KwArgs[k])
	}
	return exec.AsValue(d.d)
}

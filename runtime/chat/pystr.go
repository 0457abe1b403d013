package chat

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Python-exact versions of the str methods chat templates call. gonja's own
// differ in ways that change prompts: strip/lstrip/rstrip default to a space
// rather than all whitespace, and split() with no argument splits on single
// spaces rather than on runs of whitespace.

// pyIsSpace is Python's str.isspace for one character: Unicode White_Space
// plus the ASCII separators U+001C..U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyStrip is str.strip/lstrip/rstrip: chars nil strips whitespace, otherwise
// any of the characters in *chars.
func pyStrip(s string, chars *string, left, right bool) string {
	f := pyIsSpace
	if chars != nil {
		set := *chars
		f = func(r rune) bool { return strings.ContainsRune(set, r) }
	}
	if left {
		s = strings.TrimLeftFunc(s, f)
	}
	if right {
		s = strings.TrimRightFunc(s, f)
	}
	return s
}

// pySplit is str.split(sep, maxsplit); maxsplit < 0 means no limit.
func pySplit(s string, sep *string, maxsplit int) (pyList, error) {
	if sep != nil {
		if *sep == "" {
			return nil, errors.New("split(): empty separator")
		}
		n := -1
		if maxsplit >= 0 {
			n = maxsplit + 1
		}
		return toAnyList(strings.SplitN(s, *sep, n)), nil
	}
	r := []rune(s)
	out := pyList{}
	i := 0
	for count := maxsplit; count != 0; count-- {
		for i < len(r) && pyIsSpace(r[i]) {
			i++
		}
		if i == len(r) {
			break
		}
		j := i
		for i < len(r) && !pyIsSpace(r[i]) {
			i++
		}
		out = append(out, string(r[j:i]))
	}
	if i < len(r) { // maxsplit reached: the rest, less leading whitespace
		for i < len(r) && pyIsSpace(r[i]) {
			i++
		}
		if i < len(r) {
			out = append(out, string(r[i:]))
		}
	}
	return out, nil
}

// pyRSplit is str.rsplit(sep, maxsplit).
func pyRSplit(s string, sep *string, maxsplit int) (pyList, error) {
	if sep != nil {
		if *sep == "" {
			return nil, errors.New("rsplit(): empty separator")
		}
		if maxsplit < 0 {
			return toAnyList(strings.Split(s, *sep)), nil
		}
		var parts []string
		for ; maxsplit > 0; maxsplit-- {
			k := strings.LastIndex(s, *sep)
			if k < 0 {
				break
			}
			parts = append(parts, s[k+len(*sep):])
			s = s[:k]
		}
		parts = append(parts, s)
		slices.Reverse(parts)
		return toAnyList(parts), nil
	}
	r := []rune(s)
	var parts []string
	i := len(r) - 1
	for count := maxsplit; count != 0; count-- {
		for i >= 0 && pyIsSpace(r[i]) {
			i--
		}
		if i < 0 {
			break
		}
		j := i
		for i >= 0 && !pyIsSpace(r[i]) {
			i--
		}
		parts = append(parts, string(r[i+1:j+1]))
	}
	if i >= 0 {
		for i >= 0 && pyIsSpace(r[i]) {
			i--
		}
		if i >= 0 {
			parts = append(parts, string(r[:i+1]))
		}
	}
	slices.Reverse(parts)
	return toAnyList(parts), nil
}

func toAnyList(ss []string) pyList {
	out := make(pyList, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// pyAffix is str.startswith / str.endswith (prefix a string or a list/tuple
// of strings, optional start and end in characters).
func pyAffix(self string, args *exec.VarArgs, suffix bool) (bool, error) {
	name := "startswith"
	if suffix {
		name = "endswith"
	}
	if len(args.KwArgs) > 0 {
		return false, fmt.Errorf("%s() takes no keyword arguments", name)
	}
	if len(args.Args) < 1 || len(args.Args) > 3 {
		return false, fmt.Errorf("%s() takes from 1 to 3 arguments (%d given)", name, len(args.Args))
	}
	var affixes []string
	switch a := args.Args[0]; {
	case a.IsString():
		affixes = []string{a.String()}
	case a.IsList():
		for i := range a.Len() {
			e := a.Index(i)
			if !e.IsString() {
				return false, fmt.Errorf("%s(): tuple items must be str", name)
			}
			affixes = append(affixes, e.String())
		}
	default:
		return false, fmt.Errorf("%s() first arg must be str or a tuple of str", name)
	}
	r := []rune(self)
	n := len(r)
	start, end := 0, n
	if len(args.Args) > 1 && !args.Args[1].IsNil() {
		if !args.Args[1].IsInteger() {
			return false, fmt.Errorf("%s(): start must be an integer", name)
		}
		start = args.Args[1].Integer()
	}
	if len(args.Args) > 2 && !args.Args[2].IsNil() {
		if !args.Args[2].IsInteger() {
			return false, fmt.Errorf("%s(): end must be an integer", name)
		}
		end = args.Args[2].Integer()
	}
	if start < 0 {
		start = max(start+n, 0)
	}
	if end < 0 {
		end = max(end+n, 0)
	}
	end = min(end, n)
	if start > n {
		return false, nil
	}
	sub := ""
	if start < end {
		sub = string(r[start:end])
	}
	for _, a := range affixes {
		if end-start < len([]rune(a)) {
			continue
		}
		if (!suffix && strings.HasPrefix(sub, a)) || (suffix && strings.HasSuffix(sub, a)) {
			return true, nil
		}
	}
	return false, nil
}

// argAt returns positional argument i, else keyword name, else nil.
func argAt(args *exec.VarArgs, i int, name string) *exec.Value {
	if i < len(args.Args) {
		return args.Args[i]
	}
	if v, ok := args.KwArgs[name]; ok {
		return v
	}
	return nil
}

// checkArgs rejects calls with more positional arguments than names, or with
// keywords not among names.
func checkArgs(fn string, args *exec.VarArgs, names ...string) error {
	if len(args.Args) > len(names) {
		return fmt.Errorf("%s() takes at most %d arguments (%d given)", fn, len(names), len(args.Args))
	}
	for k := range args.KwArgs {
		if !slices.Contains(names, k) {
			return fmt.Errorf("%s() got an unexpected keyword argument %q", fn, k)
		}
	}
	return nil
}

// optString reads an optional str-or-None argument.
func optString(fn string, v *exec.Value) (*string, error) {
	if v == nil || v.IsNil() {
		return nil, nil
	}
	if !v.IsString() {
		return nil, fmt.Errorf("%s(): argument must be str or None, not %s", fn, v.String())
	}
	s := v.String()
	return &s, nil
}

// optInt reads an optional integer argument.
func optInt(fn string, v *exec.Value, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if !v.IsInteger() {
		return 0, fmt.Errorf("%s(): argument must be an integer, not %s", fn, v.String())
	}
	return v.Integer(), nil
}

type strMethod = exec.Method[string]

func stripMethod(name string, left, right bool) strMethod {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs(name, args, "chars"); err != nil {
			return nil, err
		}
		chars, err := optString(name, argAt(args, 0, "chars"))
		if err != nil {
			return nil, err
		}
		return pyStrip(self, chars, left, right), nil
	}
}

func splitMethod(name string, right bool) strMethod {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		if err := checkArgs(name, args, "sep", "maxsplit"); err != nil {
			return nil, err
		}
		sep, err := optString(name, argAt(args, 0, "sep"))
		if err != nil {
			return nil, err
		}
		maxsplit, err := optInt(name, argAt(args, 1, "maxsplit"), -1)
		if err != nil {
			return nil, err
		}
		if right {
			return pyRSplit(self, sep, maxsplit)
		}
		return pySplit(self, sep, maxsplit)
	}
}

func replaceMethod(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
	if err := checkArgs("replace", args, "old", "new", "count"); err != nil {
		return nil, err
	}
	oldV, newV := argAt(args, 0, "old"), argAt(args, 1, "new")
	if oldV == nil || newV == nil || !oldV.IsString() || !newV.IsString() {
		return nil, errors.New("replace() takes two str arguments")
	}
	count, err := optInt("replace", argAt(args, 2, "count"), -1)
	if err != nil {
		return nil, err
	}
	return strings.Replace(self, oldV.String(), newV.String(), count), nil
}

func affixMethod(suffix bool) strMethod {
	return func(self string, _ *exec.Value, args *exec.VarArgs) (any, error) {
		return pyAffix(self, args, suffix)
	}
}

// pyPercentFormat is Python's "fmt % args" for positional arguments, which is
// Jinja's format filter. Conversions follow printf, as in Python, except that
// %s and %r take any value (Python's str and repr) and %i and %u are %d.
func pyPercentFormat(format string, args []*exec.Value) (string, error) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(format) && strings.IndexByte("#0- +", format[j]) >= 0 {
			j++
		}
		for j < len(format) && (format[j] >= '0' && format[j] <= '9' || format[j] == '.') {
			j++
		}
		if j >= len(format) {
			return "", errors.New("format: incomplete format")
		}
		spec, verb := format[i+1:j], format[j]
		i = j
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if next >= len(args) {
			return "", errors.New("format: not enough arguments for format string")
		}
		a := args[next]
		next++
		switch verb {
		case 's':
			fmt.Fprintf(&b, "%"+spec+"s", pyStr(a))
		case 'r':
			r := pyStr(a)
			if a.IsString() {
				r = "'" + strings.ReplaceAll(r, "'", `\'`) + "'"
			}
			fmt.Fprintf(&b, "%"+spec+"s", r)
		case 'd', 'i', 'u':
			if !a.IsNumber() {
				return "", fmt.Errorf("format: %%%c requires a number, not %s", verb, a.String())
			}
			fmt.Fprintf(&b, "%"+spec+"d", a.Integer())
		case 'x', 'X', 'o':
			if !a.IsInteger() {
				return "", fmt.Errorf("format: %%%c requires an integer, not %s", verb, a.String())
			}
			fmt.Fprintf(&b, "%"+spec+string(verb), a.Integer())
		case 'f', 'F', 'e', 'E', 'g', 'G':
			if !a.IsNumber() {
				return "", fmt.Errorf("format: %%%c requires a number, not %s", verb, a.String())
			}
			if !strings.Contains(spec, ".") && verb != 'g' && verb != 'G' {
				spec += ".6"
			}
			fmt.Fprintf(&b, "%"+spec+string(verb), a.Float())
		case 'c':
			switch {
			case a.IsInteger():
				b.WriteRune(rune(a.Integer()))
			case a.IsString() && len([]rune(a.String())) == 1:
				b.WriteString(a.String())
			default:
				return "", errors.New("format: %c requires an int or a single character")
			}
		default:
			return "", fmt.Errorf("format: unsupported format character %q", verb)
		}
	}
	if next < len(args) {
		return "", errors.New("format: not all arguments converted during string formatting")
	}
	return b.String(), nil
}

// pyStr is Python's str() of a template value, as far as gonja can tell
// None from a string.
func pyStr(v *exec.Value) string {
	if v.IsNil() {
		return "None"
	}
	return v.String()
}

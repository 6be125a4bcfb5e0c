package bounded_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ioPackages are the directories, from the module's root, whose exported functions taking a ctx must
// each have a case.
var ioPackages = []string{
	"conn", "shard", "shard/hostset", "market", "tokens", "logs", "sync", "uniquevisits", "redistest", "redistest/faultproxy",
}

func names(cs []call) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// covered is what a case name covers: the part before " (", split at " + ".
func covered(name string) []string {
	head, _, _ := strings.Cut(name, " (")
	parts := strings.Split(head, " + ")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// ioFuncs lists, as "pkg.Func", "pkg.Type.Method" or "pkg.Interface.Method", the exported functions
// and methods (of exported types) in dir's non-test files that take a context.Context, or return a
// function that does (a wrapper: the call it makes takes the ctx).
func ioFuncs(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			ctxName := ""
			for _, im := range f.Imports {
				if path, _ := strconv.Unquote(im.Path.Value); path == "context" {
					ctxName = "context"
					if im.Name != nil {
						ctxName = im.Name.Name
					}
				}
			}
			if ctxName == "" {
				continue
			}
			isCtx := func(e ast.Expr) bool {
				sel, ok := e.(*ast.SelectorExpr)
				if !ok {
					return false
				}
				x, ok := sel.X.(*ast.Ident)
				return ok && x.Name == ctxName && sel.Sel.Name == "Context"
			}
			takesCtx := func(ft *ast.FuncType) bool {
				return ft.Params != nil && slices.ContainsFunc(ft.Params.List, func(p *ast.Field) bool { return isCtx(p.Type) })
			}
			returnsCtxFunc := func(ft *ast.FuncType) bool {
				return ft.Results != nil && slices.ContainsFunc(ft.Results.List, func(r *ast.Field) bool {
					rt, ok := r.Type.(*ast.FuncType)
					return ok && takesCtx(rt)
				})
			}
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if !d.Name.IsExported() || !(takesCtx(d.Type) || returnsCtxFunc(d.Type)) {
						continue
					}
					name := pkg.Name + "." + d.Name.Name
					if d.Recv != nil {
						recv := receiverName(d.Recv.List[0].Type)
						if !ast.IsExported(recv) {
							continue
						}
						name = pkg.Name + "." + recv + "." + d.Name.Name
					}
					out = append(out, name)
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						ts, ok := spec.(*ast.TypeSpec)
						if !ok || !ts.Name.IsExported() {
							continue
						}
						it, ok := ts.Type.(*ast.InterfaceType)
						if !ok {
							continue
						}
						for _, m := range it.Methods.List {
							ft, ok := m.Type.(*ast.FuncType)
							if !ok || !(takesCtx(ft) || returnsCtxFunc(ft)) {
								continue
							}
							for _, n := range m.Names {
								if n.IsExported() {
									out = append(out, pkg.Name+"."+ts.Name.Name+"."+n.Name)
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// receiverName is the type's name in a method's receiver: T, *T, T[P] or *T[P, Q].
func receiverName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// checkCoverage fails for every exported function taking a ctx that no case covers, so that a new
// one cannot be left out of the table.
func checkCoverage(t *testing.T, caseNames []string) {
	have := map[string]bool{}
	for _, n := range caseNames {
		for _, c := range covered(n) {
			have[c] = true
		}
	}
	root := filepath.Join("..", "..", "..")
	total := 0
	for _, dir := range ioPackages {
		fns := ioFuncs(t, filepath.Join(root, filepath.FromSlash(dir)))
		if len(fns) == 0 {
			t.Errorf("%s: no exported function takes a ctx; is the directory right?", dir)
		}
		total += len(fns)
		for _, fn := range fns {
			if !have[fn] {
				t.Errorf("%s takes a ctx but has no case in calls (name a case %q, or start a joined name with it)", fn, fn)
			}
		}
	}
	t.Logf("%d exported functions taking a ctx in %d packages, all checked against %d cases", total, len(ioPackages), len(caseNames))
}

// The parser finds what the check relies on: functions, methods on pointer and generic receivers,
// interface methods and wrappers; not unexported ones or those without a ctx.
func TestIOFuncsLister(t *testing.T) {
	dir := t.TempDir()
	src := `package p

import ctxpkg "context"

func A(ctx ctxpkg.Context) error { return nil }
func B() error { return nil }
func c(ctx ctxpkg.Context) {}
func W(f int) func(ctx ctxpkg.Context) error { return nil }
type T struct{}
func (*T) M(_ ctxpkg.Context, n int) {}
func (T) N() {}
type G[K any] struct{}
func (g *G[K]) M(ctx ctxpkg.Context) {}
type u struct{}
func (u) M(ctx ctxpkg.Context) {}
type I interface{ Do(ctx ctxpkg.Context) error; Not() }
`
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\nimport \"context\"\nfunc X(ctx context.Context) {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := ioFuncs(t, dir)
	slices.Sort(got)
	want := []string{"p.A", "p.G.M", "p.I.Do", "p.T.M", "p.W"}
	if !slices.Equal(got, want) {
		t.Fatalf("ioFuncs = %v; want %v", got, want)
	}
	if got := covered("faultproxy.Proxy.BlackHole + faultproxy.Proxy.RemoveAll (note (nested))"); !slices.Equal(got,
		[]string{"faultproxy.Proxy.BlackHole", "faultproxy.Proxy.RemoveAll"}) {
		t.Fatalf("covered = %v", got)
	}
}

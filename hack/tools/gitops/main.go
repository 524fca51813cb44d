// gitops-check reads a Kubernetes List (JSON) on stdin and prints one line per item,
// "name<TAB>status<TAB>message", as a GitOps tool would judge it:
//
//	gitops-check kstatus            Flux's kstatus (sigs.k8s.io/cli-utils status.Compute)
//	gitops-check argocd SCRIPT.lua  an Argo CD resource health script, run by gopher-lua as Argo CD does
package main

import (
	"fmt"
	"io"
	"os"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: gitops-check kstatus | gitops-check argocd SCRIPT.lua")
	}
	input, err := io.ReadAll(os.Stdin)
	check(err)
	var list struct {
		Items []map[string]interface{} `json:"items"`
	}
	check(json.Unmarshal(input, &list))
	for _, item := range list.Items {
		obj := &unstructured.Unstructured{Object: item}
		var state, message string
		switch os.Args[1] {
		case "kstatus":
			result, err := status.Compute(obj)
			check(err)
			state, message = result.Status.String(), result.Message
		case "argocd":
			if len(os.Args) < 3 {
				fail("argocd needs the script")
			}
			state, message = argocd(os.Args[2], item)
		default:
			fail("unknown check " + os.Args[1])
		}
		fmt.Printf("%s\t%s\t%s\n", obj.GetName(), state, message)
	}
}

// argocd runs a health script the way Argo CD's lua package does: a fresh gopher-lua state,
// the object as the global `obj` (JSON objects become tables, arrays 1-based tables, numbers
// Lua numbers; apimachinery's JSON keeps integers as int64, as Argo CD's objects do), and the
// returned table's `status` and `message`.
func argocd(script string, obj map[string]interface{}) (string, string) {
	source, err := os.ReadFile(script)
	check(err)
	l := lua.NewState(lua.Options{SkipOpenLibs: false})
	defer l.Close()
	l.SetGlobal("obj", toLua(l, obj))
	check(l.DoString(string(source)))
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		fail("the script returned no table")
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

func toLua(l *lua.LState, v interface{}) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []interface{}:
		t := l.NewTable()
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]interface{}:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	default:
		fail(fmt.Sprintf("cannot convert %T", v))
		return lua.LNil
	}
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "gitops-check:", message)
	os.Exit(2)
}

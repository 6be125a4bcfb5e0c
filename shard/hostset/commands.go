package hostset

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:generate go run ./internal/gencommands commands_table.go

// cmdInfo is one command's key specifications, from COMMAND (commands_table.go).
type cmdInfo struct {
	container bool // has subcommands ("object" -> "object|encoding")
	specs     []keySpec
}

// keySpec is a Redis 7 key specification: where the search for keys begins (an index, or the
// argument after a keyword) and how keys are found from there (a range, or a count argument).
type keySpec struct {
	unknown    bool   // keys cannot be found from the arguments (SORT's BY/GET patterns)
	incomplete bool   // the spec may miss keys
	keyword    string // begin at the argument after this keyword; "" means at pos
	pos        int    // begin_search index, or the keyword's startfrom
	keynum     bool   // find_keys keynum: the key count is at numIdx, keys start at first
	numIdx     int
	first      int
	last       int // range: last key relative to the start (-1 is the last argument)
	step       int
	limit      int // range with last -1: only 1/limit of the remaining arguments
}

// commandName is the lower-case name, with the subcommand for containers ("object|encoding").
func commandName(args []any) (string, cmdInfo, bool) {
	if len(args) == 0 {
		return "", cmdInfo{}, false
	}
	name := strings.ToLower(argString(args[0]))
	info, ok := commandTable[name]
	if ok && info.container && len(args) > 1 {
		sub := name + "|" + strings.ToLower(argString(args[1]))
		if si, ok := commandTable[sub]; ok {
			return sub, si, true
		}
	}
	return name, info, ok
}

// commandKeys returns the keys in args, as Redis's getKeysUsingKeySpecs finds them.
func commandKeys(name string, info cmdInfo, args []any) ([]string, error) {
	argc := len(args)
	var keys []string
	for _, s := range info.specs {
		if s.unknown || s.incomplete {
			return nil, &UnroutableError{Command: name, Reason: "its keys depend on its arguments' contents; use a host's own client"}
		}
		first := 0
		if s.keyword == "" {
			first = s.pos
		} else {
			start, end, dir := s.pos, argc-1, 1
			if s.pos <= 0 {
				start, end, dir = argc+s.pos, 0, -1
			}
			for i := start; ; i += dir {
				if i >= argc || i < 1 {
					break
				}
				if strings.EqualFold(argString(args[i]), s.keyword) {
					first = i + 1
					break
				}
				if i == end {
					break
				}
			}
			if first == 0 {
				continue // keyword absent: this spec has no keys
			}
		}
		var last, step int
		if s.keynum {
			if s.numIdx >= argc-first {
				continue
			}
			n, err := strconv.Atoi(argString(args[first+s.numIdx]))
			if err != nil || n < 0 {
				continue // the server will reject it
			}
			first += s.first
			last = first + n - 1
			step = s.step
		} else {
			switch {
			case s.last >= 0:
				last = first + s.last
			case s.limit <= 1:
				last = argc + s.last
			default:
				last = first + (argc-first)/s.limit + s.last
			}
			step = s.step
		}
		if step < 1 || first >= argc || last >= argc || last < first {
			continue
		}
		for i := first; i <= last; i += step {
			keys = append(keys, argString(args[i]))
		}
	}
	return keys, nil
}

// connectionBound commands only make sense on one connection, which the routing client does not have.
var connectionBound = map[string]bool{
	"watch": true, "unwatch": true, "multi": true, "exec": true, "discard": true,
	"subscribe": true, "psubscribe": true, "ssubscribe": true, "select": true, "monitor": true,
}

// routeKey returns the single key cmd operates on, as the bytes go-redis sends (wireArg). The caller
// has checked cmd's arguments (checkArgs).
func routeKey(cmd redis.Cmder) (string, error) {
	args := cmd.Args()
	name, info, ok := commandName(args)
	if !ok {
		return "", &UnroutableError{Command: name, Reason: "unknown command"}
	}
	if connectionBound[name] {
		return "", &UnroutableError{Command: name, Reason: "it needs a connection of its own; use the client Hosts.ClientForKey returns"}
	}
	keys, err := commandKeys(name, info, args)
	if err != nil {
		return "", err
	}
	if len(keys) == 0 {
		return "", &UnroutableError{Command: name, Reason: "it names no key; use Fanout or All"}
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			return "", &UnroutableError{Command: name, Reason: fmt.Sprintf("it names %d different keys", len(keys))}
		}
	}
	return keys[0], nil
}

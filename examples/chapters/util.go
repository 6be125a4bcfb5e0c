package chapters

import (
	"encoding/json"
	"strconv"
)

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

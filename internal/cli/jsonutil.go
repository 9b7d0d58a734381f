package cli

import (
	"bytes"
	"encoding/json"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// remarshal converts a decoded JSON value into a typed one.
func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	return d.Decode(out)
}

package charts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Param is one documented value of a chart: a key of values.yaml whose comment
// starts with "# --" (the helm-docs convention).
type Param struct {
	Key         string
	Default     string
	Description string
}

// ChartParams reads values.yaml and returns its documented values, plus every
// leaf value that neither it nor any parent documents.
func ChartParams(valuesFile string) (params []Param, undocumented []string, err error) {
	raw, err := os.ReadFile(valuesFile)
	if err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, nil, err
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("%s: not a mapping", valuesFile)
	}
	var walk func(n *yaml.Node, prefix string, documented bool) error
	walk = func(n *yaml.Node, prefix string, documented bool) error {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + k.Value
			}
			desc, ok := paramComment(k.HeadComment)
			if ok {
				def, err := compact(v)
				if err != nil {
					return fmt.Errorf("%s: %v", key, err)
				}
				params = append(params, Param{Key: key, Default: def, Description: desc})
			}
			if v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				if err := walk(v, key, documented || ok); err != nil {
					return err
				}
			} else if !documented && !ok {
				undocumented = append(undocumented, key)
			}
		}
		return nil
	}
	err = walk(doc.Content[0], "", false)
	return params, undocumented, err
}

// paramComment returns the "# --" part of a key's head comment.
func paramComment(head string) (string, bool) {
	lines := strings.Split(head, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "# --") {
			start = i
		}
	}
	if start < 0 {
		return "", false
	}
	var words []string
	for i, l := range lines[start:] {
		l = strings.TrimSpace(l)
		if i == 0 {
			l = strings.TrimPrefix(l, "# --")
		} else {
			l = strings.TrimPrefix(l, "#")
		}
		if l = strings.TrimSpace(l); l != "" {
			words = append(words, l)
		}
	}
	return strings.Join(words, " "), true
}

// compact renders a value as one line of JSON.
func compact(n *yaml.Node) (string, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return "", err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}

// ParamTable renders params as a Markdown table.
func ParamTable(params []Param) string {
	var b strings.Builder
	b.WriteString("| Key | Default | Description |\n|---|---|---|\n")
	esc := strings.NewReplacer("|", `\|`, "\n", " ")
	for _, p := range params {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", p.Key, esc.Replace(p.Default), esc.Replace(p.Description))
	}
	return b.String()
}

const (
	tableStart = "<!-- parameters:start (generated from values.yaml: make test-charts UPDATE_README=1) -->"
	tableEnd   = "<!-- parameters:end -->"
)

// ReplaceTable puts table between the markers of a README.
func ReplaceTable(readme, table string) (string, error) {
	i := strings.Index(readme, tableStart)
	j := strings.Index(readme, tableEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("the README lacks the markers %q and %q", tableStart, tableEnd)
	}
	return readme[:i+len(tableStart)] + "\n" + table + readme[j:], nil
}

package charts

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Doc is one rendered object: its YAML and the template it came from.
type Doc struct {
	Source     string // "cm-server/templates/deployment.yaml", from helm's "# Source:" line
	YAML       []byte
	APIVersion string
	Kind       string
	Name       string
}

func (d Doc) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", d.Kind, d.APIVersion, d.Name, d.Source)
}

// SplitManifest cuts a multi-document manifest into its non-empty documents.
func SplitManifest(manifest string) ([]Doc, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	var docs []Doc
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		d := Doc{YAML: raw}
		for _, line := range bytes.Split(raw, []byte("\n")) {
			if s, ok := strings.CutPrefix(string(line), "# Source: "); ok {
				d.Source = strings.TrimSpace(s)
				break
			}
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s: not YAML: %v", d.Source, err)
		}
		if head.APIVersion == "" && head.Kind == "" {
			if isBlank(raw) {
				continue // only comments
			}
			return nil, fmt.Errorf("%s: a document without apiVersion and kind:\n%s", d.Source, raw)
		}
		d.APIVersion, d.Kind, d.Name = head.APIVersion, head.Kind, head.Metadata.Name
		docs = append(docs, d)
	}
}

func isBlank(raw []byte) bool {
	for _, line := range bytes.Split(raw, []byte("\n")) {
		l := bytes.TrimSpace(line)
		if len(l) > 0 && l[0] != '#' && string(l) != "---" {
			return false
		}
	}
	return true
}

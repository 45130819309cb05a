package charts

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The dashboard ConfigMap carries the Grafana sidecar's label and the
// dashboard file unchanged, as valid JSON; it is off by default.
func TestDashboardConfigMap(t *testing.T) {
	find := func(objs []Object) *corev1.ConfigMap {
		for _, o := range objs {
			if cm, ok := o.Obj.(*corev1.ConfigMap); ok && o.Name == "cm-server-dashboard" {
				return cm
			}
		}
		return nil
	}
	if find(cmServer.render(t, "-f", cmServer.required)) != nil {
		t.Error("the dashboard ConfigMap renders by default; it must be opt-in")
	}
	cm := find(cmServer.render(t, "-f", cmServer.required, "--set", "dashboard.enabled=true"))
	if cm == nil {
		t.Fatal("dashboard.enabled=true rendered no cm-server-dashboard ConfigMap")
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("labels %v: want the sidecar's grafana_dashboard: \"1\"", cm.Labels)
	}
	want, err := os.ReadFile(filepath.Join(cmServer.path(), "dashboards/scalable-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := cm.Data["scalable-shop.json"]
	if !json.Valid([]byte(got)) || string(bytes.TrimSpace(want)) != got {
		t.Errorf("the ConfigMap's dashboard is not the file dashboards/scalable-shop.json as valid JSON")
	}
}

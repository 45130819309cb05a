package charts

import (
	"fmt"
	"regexp"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Custom resources whose CRDs are not in the shared CRD folder are decoded
// strictly into the structs below. They mirror the upstream Go types
// (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 and
// github.com/kedacore/keda/v2/apis/keda/v1alpha1) for the fields the charts may
// use: a field the upstream API lacks, or a misspelt one, fails the decode.

// ServiceMonitor is monitoring.coreos.com/v1 ServiceMonitor.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

type ServiceMonitorSpec struct {
	JobLabel          string               `json:"jobLabel,omitempty"`
	TargetLabels      []string             `json:"targetLabels,omitempty"`
	PodTargetLabels   []string             `json:"podTargetLabels,omitempty"`
	Endpoints         []MonitorEndpoint    `json:"endpoints"`
	Selector          metav1.LabelSelector `json:"selector"`
	NamespaceSelector *struct {
		Any        bool     `json:"any,omitempty"`
		MatchNames []string `json:"matchNames,omitempty"`
	} `json:"namespaceSelector,omitempty"`
	SampleLimit *uint64 `json:"sampleLimit,omitempty"`
}

type MonitorEndpoint struct {
	Port          string              `json:"port,omitempty"`
	TargetPort    *intstr.IntOrString `json:"targetPort,omitempty"`
	Path          string              `json:"path,omitempty"`
	Scheme        string              `json:"scheme,omitempty"`
	Interval      string              `json:"interval,omitempty"`
	ScrapeTimeout string              `json:"scrapeTimeout,omitempty"`
	HonorLabels   bool                `json:"honorLabels,omitempty"`
}

// promDuration is Prometheus' duration syntax (the CRD's pattern).
var promDuration = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func (s *ServiceMonitor) validate() error {
	if len(s.Spec.Endpoints) == 0 {
		return fmt.Errorf("spec.endpoints: at least one endpoint is required")
	}
	if len(s.Spec.Selector.MatchLabels) == 0 && len(s.Spec.Selector.MatchExpressions) == 0 {
		return fmt.Errorf("spec.selector: empty, it would select every Service")
	}
	for i, e := range s.Spec.Endpoints {
		if e.Port == "" && e.TargetPort == nil {
			return fmt.Errorf("spec.endpoints[%d]: port or targetPort is required", i)
		}
		for name, d := range map[string]string{"interval": e.Interval, "scrapeTimeout": e.ScrapeTimeout} {
			if d != "" && !promDuration.MatchString(d) {
				return fmt.Errorf("spec.endpoints[%d].%s: %q is not a Prometheus duration", i, name, d)
			}
		}
		if e.Interval != "" && e.ScrapeTimeout != "" {
			iv, err1 := time.ParseDuration(e.Interval)
			st, err2 := time.ParseDuration(e.ScrapeTimeout)
			if err1 == nil && err2 == nil && st > iv {
				return fmt.Errorf("spec.endpoints[%d]: scrapeTimeout %s is longer than interval %s (Prometheus refuses that)", i, e.ScrapeTimeout, e.Interval)
			}
		}
	}
	return nil
}

// ScaledObject is keda.sh/v1alpha1 ScaledObject.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ScaledObjectSpec `json:"spec"`
}

type ScaledObjectSpec struct {
	ScaleTargetRef struct {
		APIVersion             string `json:"apiVersion,omitempty"`
		Kind                   string `json:"kind,omitempty"`
		Name                   string `json:"name"`
		EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
	} `json:"scaleTargetRef"`
	PollingInterval  *int32 `json:"pollingInterval,omitempty"`
	InitialCooldown  *int32 `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod   *int32 `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount *int32 `json:"idleReplicaCount,omitempty"`
	MinReplicaCount  *int32 `json:"minReplicaCount,omitempty"`
	MaxReplicaCount  *int32 `json:"maxReplicaCount,omitempty"`
	Triggers         []struct {
		Type              string            `json:"type"`
		Name              string            `json:"name,omitempty"`
		UseCachedMetrics  bool              `json:"useCachedMetrics,omitempty"`
		Metadata          map[string]string `json:"metadata"`
		AuthenticationRef *struct {
			Name string `json:"name"`
			Kind string `json:"kind,omitempty"`
		} `json:"authenticationRef,omitempty"`
		MetricType string `json:"metricType,omitempty"`
	} `json:"triggers"`
	Fallback *struct {
		FailureThreshold int32 `json:"failureThreshold"`
		Replicas         int32 `json:"replicas"`
	} `json:"fallback,omitempty"`
}

func (s *ScaledObject) validate() error {
	if s.Spec.ScaleTargetRef.Name == "" {
		return fmt.Errorf("spec.scaleTargetRef.name is required")
	}
	if len(s.Spec.Triggers) == 0 {
		return fmt.Errorf("spec.triggers: at least one trigger is required")
	}
	if s.Spec.MinReplicaCount != nil && s.Spec.MaxReplicaCount != nil && *s.Spec.MinReplicaCount > *s.Spec.MaxReplicaCount {
		return fmt.Errorf("spec.minReplicaCount %d > spec.maxReplicaCount %d", *s.Spec.MinReplicaCount, *s.Spec.MaxReplicaCount)
	}
	for i, t := range s.Spec.Triggers {
		if t.Type == "" {
			return fmt.Errorf("spec.triggers[%d].type is required", i)
		}
	}
	return nil
}

// TriggerAuthentication is keda.sh/v1alpha1 TriggerAuthentication.
type TriggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef,omitempty"`
		Env []struct {
			Parameter     string `json:"parameter"`
			Name          string `json:"name"`
			ContainerName string `json:"containerName,omitempty"`
		} `json:"env,omitempty"`
	} `json:"spec"`
}

func (a *TriggerAuthentication) validate() error {
	if len(a.Spec.SecretTargetRef) == 0 && len(a.Spec.Env) == 0 {
		return fmt.Errorf("spec: neither secretTargetRef nor env is set")
	}
	for i, r := range a.Spec.SecretTargetRef {
		if r.Parameter == "" || r.Name == "" || r.Key == "" {
			return fmt.Errorf("spec.secretTargetRef[%d]: parameter, name and key are required", i)
		}
	}
	for i, r := range a.Spec.Env {
		if r.Parameter == "" || r.Name == "" {
			return fmt.Errorf("spec.env[%d]: parameter and name are required", i)
		}
	}
	return nil
}

// PrometheusRule is monitoring.coreos.com/v1 PrometheusRule. The expressions
// themselves are checked by promtool (make test-alerts).
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []RuleGroup `json:"groups"`
	} `json:"spec"`
}

type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

type Rule struct {
	Record        string             `json:"record,omitempty"`
	Alert         string             `json:"alert,omitempty"`
	Expr          intstr.IntOrString `json:"expr"`
	For           string             `json:"for,omitempty"`
	KeepFiringFor string             `json:"keep_firing_for,omitempty"`
	Labels        map[string]string  `json:"labels,omitempty"`
	Annotations   map[string]string  `json:"annotations,omitempty"`
}

func (p *PrometheusRule) validate() error {
	if len(p.Spec.Groups) == 0 {
		return fmt.Errorf("spec.groups: at least one group is required")
	}
	for i, g := range p.Spec.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			return fmt.Errorf("spec.groups[%d]: a group needs a name and rules", i)
		}
		for j, r := range g.Rules {
			if (r.Alert == "") == (r.Record == "") {
				return fmt.Errorf("spec.groups[%d].rules[%d]: exactly one of alert and record", i, j)
			}
			if r.For != "" && !promDuration.MatchString(r.For) {
				return fmt.Errorf("spec.groups[%d].rules[%d].for: %q is not a Prometheus duration", i, j, r.For)
			}
			// The runbook is part of every alert of these charts (RUNBOOK.md).
			if r.Alert != "" && r.Annotations["runbook_url"] == "" {
				return fmt.Errorf("spec.groups[%d].rules[%d] (%s): no runbook_url annotation", i, j, r.Alert)
			}
		}
	}
	return nil
}

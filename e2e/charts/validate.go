package charts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Validator decodes rendered objects strictly.
type Validator struct {
	crds    map[schema.GroupVersionKind]*crdVersion
	decoder runtime.Decoder
}

// Object is a decoded, validated object: a typed Kubernetes object for the
// built-in kinds (*appsv1.Deployment, ...), *unstructured.Unstructured for
// custom resources validated by their CRD, or one of the structs in custom.go.
type Object struct {
	Doc
	Obj any
}

// NewValidator loads the CRDs under crdDir.
func NewValidator(crdDir string) (*Validator, error) {
	crds, err := LoadCRDs(crdDir)
	if err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)
	return &Validator{crds: crds, decoder: codecs.UniversalDeserializer()}, nil
}

// customKinds are decoded into the structs of custom.go.
var customKinds = map[schema.GroupVersionKind]func() interface{ validate() error }{
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: func() interface{ validate() error } { return &ServiceMonitor{} },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}: func() interface{ validate() error } { return &PrometheusRule{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:           func() interface{ validate() error } { return &ScaledObject{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}:  func() interface{ validate() error } { return &TriggerAuthentication{} },
}

// Decode decodes and validates one rendered object. Unknown and duplicate
// fields, unknown kinds, beta built-in APIs, invalid names and labels fail.
func (v *Validator) Decode(d Doc) (Object, error) {
	fail := func(format string, args ...any) (Object, error) {
		return Object{}, fmt.Errorf("%s: %s", d, fmt.Sprintf(format, args...))
	}
	js, err := yaml.YAMLToJSONStrict(d.YAML)
	if err != nil {
		return fail("%v", err)
	}
	gv, err := schema.ParseGroupVersion(d.APIVersion)
	if err != nil {
		return fail("%v", err)
	}
	gvk := gv.WithKind(d.Kind)

	if crd, ok := v.crds[gvk]; ok {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return fail("%v", err)
		}
		if err := strictMeta(u.Object["metadata"]); err != nil {
			return fail("metadata: %v", err)
		}
		if err := crd.validate(u.Object); err != nil {
			return fail("against the %s CRD schema: %v", gvk.GroupKind(), err)
		}
		if err := checkMeta(d.Kind, u); err != nil {
			return fail("%v", err)
		}
		return Object{Doc: d, Obj: u}, nil
	}

	if mk, ok := customKinds[gvk]; ok {
		obj := mk()
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			return fail("%v", err)
		}
		if err := obj.validate(); err != nil {
			return fail("%v", err)
		}
		if err := checkMeta(d.Kind, obj); err != nil {
			return fail("%v", err)
		}
		return Object{Doc: d, Obj: obj}, nil
	}

	for g := range v.crds {
		if g.GroupKind() == gvk.GroupKind() {
			return fail("apiVersion %s is not served by the CRD (served: %s)", d.APIVersion, servedVersions(v.crds, gvk.GroupKind()))
		}
	}
	if !scheme.Scheme.Recognizes(gvk) {
		return fail("unknown apiVersion/kind: neither a built-in Kubernetes type nor a custom resource with a known schema")
	}
	if strings.Contains(gv.Version, "alpha") || strings.Contains(gv.Version, "beta") {
		return fail("%s is a pre-GA API version; use the stable one", d.APIVersion)
	}
	obj, got, err := v.decoder.Decode(js, nil, nil)
	if err != nil {
		return fail("strict decoding: %v", err)
	}
	if *got != gvk {
		return fail("decoded as %s", got)
	}
	if err := checkMeta(d.Kind, obj); err != nil {
		return fail("%v", err)
	}
	return Object{Doc: d, Obj: obj}, nil
}

func servedVersions(crds map[schema.GroupVersionKind]*crdVersion, gk schema.GroupKind) string {
	var vs []string
	for g := range crds {
		if g.GroupKind() == gk {
			vs = append(vs, g.GroupVersion().String())
		}
	}
	return strings.Join(vs, ", ")
}

// strictMeta decodes a custom resource's metadata into ObjectMeta, refusing
// unknown fields (the CRD schema leaves metadata to the API server).
func strictMeta(m any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var om metav1.ObjectMeta
	return dec.Decode(&om)
}

// checkMeta validates the name, labels and annotations as the API server does.
func checkMeta(kind string, obj any) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	var errs field.ErrorList
	path := field.NewPath("metadata")
	name := m.GetName()
	if name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	}
	nameCheck := validation.IsDNS1123Subdomain
	if kind == "Service" {
		nameCheck = validation.IsDNS1035Label // Service names become DNS labels
	}
	for _, msg := range nameCheck(name) {
		errs = append(errs, field.Invalid(path.Child("name"), name, msg))
	}
	errs = append(errs, metav1validation.ValidateLabels(m.GetLabels(), path.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(m.GetAnnotations(), path.Child("annotations"))...)
	if ns := m.GetNamespace(); ns != "" {
		errs = append(errs, field.Invalid(path.Child("namespace"), ns, "charts leave the namespace to helm --namespace"))
	}
	return errs.ToAggregate()
}

// DecodeAll decodes every object of a manifest; it returns all objects that
// passed and one error per object that did not.
func (v *Validator) DecodeAll(manifest string) ([]Object, []error) {
	docs, err := SplitManifest(manifest)
	if err != nil {
		return nil, []error{err}
	}
	var objs []Object
	var errs []error
	for _, d := range docs {
		o, err := v.Decode(d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, o)
	}
	return objs, errs
}

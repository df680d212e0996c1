// knative-validate runs Knative's own admission checks on manifests, offline.
//
// It reads YAML streams (files named on the command line, or stdin), decodes every document of a
// kind that Knative Serving or Eventing owns into that release's Go type, strictly (an unknown
// field is an error, as the webhooks decode with DisallowUnknownFields), and runs SetDefaults then
// Validate within a create context (apis.WithinCreate), as the defaulting and validating admission
// webhooks do. The contexts carry the configuration a default installation has: Serving's
// config-defaults/config-features/... defaults (config.FromContextOrDefaults, e.g.
// max-revision-timeout-seconds 600) and Eventing's config-features defaults
// (feature.NewFlagsConfigFromMap), plus any -feature / -serving overrides given here, which stand
// for the ConfigMap settings a cluster would have to apply.
//
// An object without metadata.namespace is checked in -namespace, as the API server fills it in
// from the request before calling the webhooks.
//
// Output: one JSON object per document on stdout: {"apiVersion","kind","name","result","errors"},
// result "valid", "invalid" or "skipped" (a kind neither Serving nor Eventing owns). Exit status 1
// if any document is invalid or cannot be decoded, 2 on a usage error.
//
// With -emit, each valid object also comes back defaulted ("object"): what the defaulting webhook
// would have stored, for a test that applies the manifests to an API server without the webhook
// (tests/e2e/knative: the Broker's spec.config, the Triggers' eventing.knative.dev/broker label).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	eventingconfig "knative.dev/eventing/pkg/apis/config"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingconfig "knative.dev/serving/pkg/apis/config"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// checked is what the admission webhooks of Serving and Eventing run on a resource.
type checked interface {
	apis.Defaultable
	apis.Validatable
	metav1.Object
}

// typeOf maps "apiVersion/kind" to a new typed object of this Knative release.
var typeOf = map[string]func() checked{
	"serving.knative.dev/v1/Service":       func() checked { return &servingv1.Service{} },
	"serving.knative.dev/v1/Configuration": func() checked { return &servingv1.Configuration{} },
	"serving.knative.dev/v1/Route":         func() checked { return &servingv1.Route{} },
	"eventing.knative.dev/v1/Broker":       func() checked { return &eventingv1.Broker{} },
	"eventing.knative.dev/v1/Trigger":      func() checked { return &eventingv1.Trigger{} },
	"sources.knative.dev/v1/PingSource":    func() checked { return &sourcesv1.PingSource{} },
	"sources.knative.dev/v1/SinkBinding":   func() checked { return &sourcesv1.SinkBinding{} },
	"sources.knative.dev/v1/ApiServerSource": func() checked {
		return &sourcesv1.ApiServerSource{}
	},
	"sources.knative.dev/v1/ContainerSource": func() checked {
		return &sourcesv1.ContainerSource{}
	},
}

// releaseBrokerDefaults is config-br-defaults as the Eventing release ships it
// (config/core/configmaps/default-broker.yaml): a Broker without spec.config gets the
// MT channel-based broker's default channel ConfigMap, as the defaulting webhook gives it.
const releaseBrokerDefaults = `
clusterDefault:
  brokerClass: MTChannelBasedBroker
  apiVersion: v1
  kind: ConfigMap
  name: config-br-default-channel
  namespace: knative-eventing
  delivery:
    retry: 10
    backoffPolicy: exponential
    backoffDelay: PT0.2S
`

type result struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Result     string `json:"result"`
	Errors     string `json:"errors,omitempty"`
	Warnings   string `json:"warnings,omitempty"`
	// Object is the defaulted object (-emit only).
	Object any `json:"object,omitempty"`
}

type settings map[string]string

func (s settings) String() string { return fmt.Sprint(map[string]string(s)) }
func (s settings) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

func main() {
	features := settings{}
	serving := settings{}
	flag.Var(features, "feature", "Eventing config-features KEY=VALUE (repeatable)")
	flag.Var(serving, "serving", "Serving config-defaults KEY=VALUE (repeatable), e.g. max-revision-timeout-seconds=900")
	namespace := flag.String("namespace", "default",
		"the namespace an object without one is created in (kubectl's context namespace)")
	emit := flag.Bool("emit", false, "add each valid object, defaulted, to its result")
	flag.Parse()

	ctx, err := admissionContext(features, serving)
	if err != nil {
		fmt.Fprintln(os.Stderr, "knative-validate:", err)
		os.Exit(2)
	}
	var readers []io.Reader
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "knative-validate:", err)
			os.Exit(2)
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if len(readers) == 0 {
		readers = append(readers, os.Stdin)
	}
	failed := false
	out := json.NewEncoder(os.Stdout)
	for _, r := range readers {
		docs := yaml.NewYAMLReader(bufio.NewReader(r))
		for {
			doc, err := docs.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "knative-validate: reading YAML:", err)
				os.Exit(1)
			}
			res, ok := check(ctx, doc, *namespace, *emit)
			if res == nil {
				continue // an empty document
			}
			failed = failed || !ok
			_ = out.Encode(res)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// admissionContext is the context the webhooks give SetDefaults and Validate on a create.
func admissionContext(features, serving settings) (context.Context, error) {
	ctx := apis.WithinCreate(context.Background())
	flags, err := feature.NewFlagsConfigFromMap(features)
	if err != nil {
		return nil, err
	}
	ctx = feature.ToContext(ctx, flags)
	brokers, err := eventingconfig.NewDefaultsConfigFromMap(map[string]string{
		"default-br-config": releaseBrokerDefaults,
	})
	if err != nil {
		return nil, err
	}
	ctx = eventingconfig.ToContext(ctx, &eventingconfig.Config{Defaults: brokers})
	scfg := servingconfig.FromContextOrDefaults(context.Background())
	if len(serving) > 0 {
		defaults, err := servingconfig.NewDefaultsConfigFromMap(serving)
		if err != nil {
			return nil, err
		}
		scfg.Defaults = defaults
	}
	return servingconfig.ToContext(ctx, scfg), nil
}

func check(ctx context.Context, doc []byte, namespace string, emit bool) (*result, bool) {
	js, err := sigsyaml.YAMLToJSON(doc)
	if err != nil {
		return &result{Result: "invalid", Errors: "YAML: " + err.Error()}, false
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, true
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		return &result{Result: "invalid", Errors: "JSON: " + err.Error()}, false
	}
	res := &result{APIVersion: meta.APIVersion, Kind: meta.Kind, Name: meta.Metadata.Name}
	newObj, known := typeOf[meta.APIVersion+"/"+meta.Kind]
	if !known {
		res.Result = "skipped"
		return res, true
	}
	obj := newObj()
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		res.Result, res.Errors = "invalid", "decode: "+err.Error()
		return res, false
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(namespace) // the API server sets it before the webhooks see the object
	}
	obj.SetDefaults(ctx)
	// The webhooks answer warnings as admission warnings and deny on errors only.
	ferr := obj.Validate(ctx)
	if w := ferr.Filter(apis.WarningLevel); w != nil {
		res.Warnings = w.Error()
	}
	if e := ferr.Filter(apis.ErrorLevel); e != nil {
		res.Result, res.Errors = "invalid", e.Error()
		return res, false
	}
	res.Result = "valid"
	if emit {
		res.Object = obj
	}
	return res, true
}

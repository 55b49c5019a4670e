// cert-manager's controller for the real-pods lane, configured by a ControllerConfiguration file
// (controller.config.cert-manager.io/v1alpha1, the format upstream's --config reads): `controller --config <file>`.
//
// Why a command of our own: upstream's (cmd/controller, Go module github.com/cert-manager/cert-manager/controller-binary)
// is a nested module whose path does not match its directory, so the Go module proxy does not serve it; the root
// module it wraps is served, with every controller, issuer and the controller context in it. scripts/control-plane-tools.sh
// copies this file into a copy of that module (so it may import cert-manager's internal packages, as upstream's command
// does) and builds it. It wires what upstream's command wires: the configuration (cert-manager's own decoding, defaults
// and validation), the controller context, leader election on a Lease, the liveness server, and every controller the
// configuration enables. Left out: the metrics and pprof servers (nothing in the lane scrapes them), and the Venafi issuer
// (its library is refused by the module proxy here; see build_cert_manager).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/internal/apis/config/controller/validation"
	"github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/internal/pem"
	"github.com/cert-manager/cert-manager/pkg/controller"
	controllerconfigfile "github.com/cert-manager/cert-manager/pkg/controller/configfile"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	// The controllers and issuers register themselves (controller.Known) when imported, as in upstream's command.
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
)

func main() {
	configPath := flag.String("config", "", "a ControllerConfiguration file (controller.config.cert-manager.io/v1alpha1)")
	flag.Parse()
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit() // may call os.Exit: deferred first, runs last
	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, "controller")
	if err := run(ctx, *configPath); err != nil {
		logf.Log.Error(err, "controller failed")
		util.SetExitCode(err)
	}
}

// load decodes, defaults and validates the configuration file the way upstream's --config does.
func load(path string) (*config.ControllerConfiguration, error) {
	if path == "" {
		return nil, errors.New("--config is required")
	}
	loader, err := configfile.NewConfigurationFSLoader(nil, path)
	if err != nil {
		return nil, err
	}
	file := controllerconfigfile.New()
	if err := loader.Load(file); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	cfg := file.Config
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(cfg.FeatureGates); err != nil {
		return nil, err
	}
	if errs := validation.ValidateControllerConfiguration(cfg, nil); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if cfg.GatewayAPIConfig.Enabled {
		return nil, errors.New("gatewayAPI: not wired in this command (its informers are not started)")
	}
	if err := logf.ValidateAndApply(&cfg.Logging); err != nil {
		return nil, err
	}
	l := cfg.PEMSizeLimitsConfig
	pem.SetGlobalSizeLimits(pem.NewSizeLimitsFromConfig(l.MaxCertificateSize, l.MaxPrivateKeySize, l.MaxChainLength, l.MaxBundleSize))
	return cfg, nil
}

// enabledControllers reads `controllers` as upstream does: `*` is the default set, `name` adds one, `-name` removes
// one (whatever its position).
func enabledControllers(cfg *config.ControllerConfiguration) sets.Set[string] {
	enabled, disabled := sets.New[string](), sets.New[string]()
	for _, c := range cfg.Controllers {
		switch {
		case c == "*":
			enabled.Insert(defaults.DefaultEnabledControllers...)
		case strings.HasPrefix(c, "-"):
			disabled.Insert(strings.TrimPrefix(c, "-"))
		default:
			enabled.Insert(c)
		}
	}
	return enabled.Difference(disabled)
}

func run(rootCtx context.Context, path string) error {
	cfg, err := load(path)
	if err != nil {
		return err
	}
	log := logf.FromContext(rootCtx)
	factory, err := contextFactory(rootCtx, cfg)
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	// Enabled and built in (the Venafi ones are enabled by default but not built: see the header).
	known := controller.Known()
	enabled, running := enabledControllers(cfg), sets.New[string]()
	for name := range known {
		if enabled.Has(name) {
			running.Insert(name)
		}
	}
	log.Info("starting cert-manager controller", "controllers", sets.List(running),
		"enabledNotBuiltIn", sets.List(enabled.Difference(running)))

	g, gctx := errgroup.WithContext(rootCtx)
	listener, err := (&net.ListenConfig{}).Listen(gctx, "tcp", cfg.HealthzListenAddress)
	if err != nil {
		return fmt.Errorf("healthz address %s: %w", cfg.HealthzListenAddress, err)
	}
	health := healthz.NewServer(cfg.LeaderElectionConfig.HealthzTimeout)
	g.Go(func() error { return health.Start(gctx, listener) })

	elected := make(chan struct{})
	if cfg.LeaderElectionConfig.Enabled {
		g.Go(func() error { return leaderElection(gctx, cfg, factory, health, elected) })
	} else {
		close(elected)
	}
	select {
	case <-gctx.Done():
		return g.Wait()
	case <-elected:
	}
	for name := range running {
		c, err := known[name](factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		g.Go(func() error { return c.Run(cfg.NumberOfConcurrentWorkers, gctx) })
	}
	base.SharedInformerFactory.Start(gctx.Done())
	base.KubeSharedInformerFactory.Start(gctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(gctx.Done())
	return g.Wait()
}

// leaderElection holds the Lease upstream's controller holds (cert-manager-controller), and fails when it is lost.
func leaderElection(ctx context.Context, cfg *config.ControllerConfiguration, factory *controller.ContextFactory,
	health *healthz.Server, elected chan struct{}) error {
	c, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, cfg.LeaderElectionConfig.Namespace,
		"cert-manager-controller", c.Client.CoreV1(), c.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "-external-cert-manager-controller", EventRecorder: c.Recorder})
	if err != nil {
		return err
	}
	lost := make(chan error, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   cfg.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:   cfg.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:     cfg.LeaderElectionConfig.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        health.LeaderHealthzAdaptor,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(elected) },
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					lost <- errors.New("leader election lost")
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	select {
	case err := <-lost:
		return err
	default:
		return nil
	}
}

// contextFactory: the controller context from the configuration, field for field as upstream's command builds it.
func contextFactory(ctx context.Context, cfg *config.ControllerConfiguration) (*controller.ContextFactory, error) {
	acme := cfg.ACMEHTTP01Config
	quantities := map[string]*resource.Quantity{}
	for name, v := range map[string]string{
		"requestCPU": acme.SolverResourceRequestCPU, "requestMemory": acme.SolverResourceRequestMemory,
		"limitsCPU": acme.SolverResourceLimitsCPU, "limitsMemory": acme.SolverResourceLimitsMemory,
	} {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("acmeHTTP01Config solver resource %s: %w", name, err)
		}
		quantities[name] = &q
	}
	nameservers := cfg.ACMEDNS01Config.RecursiveNameservers
	if len(nameservers) == 0 {
		nameservers = dnsutil.RecursiveNameservers
	}
	return controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         cfg.KubeConfig,
		KubernetesAPIQPS:   cfg.KubernetesAPIQPS,
		KubernetesAPIBurst: cfg.KubernetesAPIBurst,
		APIServerHost:      cfg.APIServerHost,
		Namespace:          cfg.Namespace,
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverResourceRequestCPU:    *quantities["requestCPU"],
			HTTP01SolverResourceRequestMemory: *quantities["requestMemory"],
			HTTP01SolverResourceLimitsCPU:     *quantities["limitsCPU"],
			HTTP01SolverResourceLimitsMemory:  *quantities["limitsMemory"],
			ACMEHTTP01SolverRunAsNonRoot:      acme.SolverRunAsNonRoot,
			HTTP01SolverImage:                 acme.SolverImage,
			HTTP01SolverNameservers:           acme.SolverNameservers,
			HTTP01SolverExtraLabels:           acme.SolverExtraLabels,
			HTTP01SolverRuntimeClassName:      acme.SolverRuntimeClassName,
			DNS01Nameservers:                  nameservers,
			DNS01CheckRetryPeriod:             cfg.ACMEDNS01Config.CheckRetryPeriod,
			DNS01CheckAuthoritative:           !cfg.ACMEDNS01Config.RecursiveNameserversOnly,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: cfg.MaxConcurrentChallenges},
		IssuerOptions: controller.IssuerOptions{
			ClusterIssuerAmbientCredentials: cfg.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        cfg.IssuerAmbientCredentials,
			ClusterResourceNamespace:        cfg.ClusterResourceNamespace,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 cfg.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 cfg.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                cfg.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: cfg.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       cfg.IngressShimConfig.ExtraCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New(cfg.GatewayAPIConfig.ExtraProtocols...),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           cfg.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 cfg.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: cfg.CertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: cfg.CertificateRequestMaximumBackoffDuration,
		},
		ConfigOptions: controller.ConfigOptions{
			EnableGatewayAPI:            cfg.GatewayAPIConfig.Enabled,
			EnableGatewayAPIListenerSet: cfg.GatewayAPIConfig.EnableListenerSet,
		},
	})
}

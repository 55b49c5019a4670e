// cert-manager's webhook for the real-pods lane, configured by a WebhookConfiguration file
// (webhook.config.cert-manager.io/v1alpha1, the format upstream's --config reads): `webhook --config <file>`.
//
// Built like ../cert-manager-controller (upstream's cmd/webhook is a module the proxy does not serve). The server,
// its admission chain and its TLS are cert-manager's own (internal/webhook); this only loads the configuration. The
// lane needs the webhook for more than validation: it writes the requester's identity into every CertificateRequest
// (spec.username, groups, uid) and refuses one that claims another's, which approver-policy's RBAC check reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	config "github.com/cert-manager/cert-manager/internal/apis/config/webhook"
	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	"github.com/cert-manager/cert-manager/internal/cmd/util"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util/configfile"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	webhookconfigfile "github.com/cert-manager/cert-manager/pkg/webhook/configfile"
)

func main() {
	configPath := flag.String("config", "", "a WebhookConfiguration file (webhook.config.cert-manager.io/v1alpha1)")
	flag.Parse()
	ctx, exit := util.SetupExitHandler(context.Background(), util.GracefulShutdown)
	defer exit() // may call os.Exit: deferred first, runs last
	logf.InitLogs()
	defer logf.FlushLogs()
	ctx = logf.NewContext(ctx, logf.Log, "webhook")
	if err := run(ctx, *configPath); err != nil {
		logf.Log.Error(err, "webhook failed")
		util.SetExitCode(err)
	}
}

func run(ctx context.Context, path string) error {
	cfg, err := load(path)
	if err != nil {
		return err
	}
	srv, err := cmwebhook.NewCertManagerWebhookServer(logf.FromContext(ctx), *cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// load decodes, defaults and validates the configuration file the way upstream's --config does.
func load(path string) (*config.WebhookConfiguration, error) {
	if path == "" {
		return nil, errors.New("--config is required")
	}
	loader, err := configfile.NewConfigurationFSLoader(nil, path)
	if err != nil {
		return nil, err
	}
	file := webhookconfigfile.New()
	if err := loader.Load(file); err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	cfg := file.Config
	if err := utilfeature.DefaultMutableFeatureGate.SetFromMap(cfg.FeatureGates); err != nil {
		return nil, err
	}
	if errs := validation.ValidateWebhookConfiguration(cfg, nil); len(errs) > 0 {
		return nil, errs.ToAggregate()
	}
	if err := logf.ValidateAndApply(&cfg.Logging); err != nil {
		return nil, err
	}
	return cfg, nil
}

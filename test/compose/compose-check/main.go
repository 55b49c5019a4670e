// compose-check loads compose files the way `docker compose config` does (compose-go, the
// library the Compose CLI uses: schema validation, .env interpolation with required-variable
// errors, merging of several -f files, depends_on/network/volume/secret references) and
// additionally requires every bind-mount and secret source to exist, since Docker would
// otherwise create an empty directory in its place. It prints the resolved project as JSON.
//
//	compose-check -project-dir DIR -env-file FILE -f a.yml [-f b.yml ...]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	var composeFiles files
	projectDir := flag.String("project-dir", ".", "project directory")
	envFile := flag.String("env-file", "", ".env file")
	name := flag.String("project-name", "prism", "project name")
	flag.Var(&composeFiles, "f", "compose file (repeatable)")
	flag.Parse()

	opts, err := cli.NewProjectOptions(composeFiles,
		cli.WithWorkingDirectory(*projectDir),
		cli.WithEnvFiles(*envFile),
		cli.WithDotEnv,
		cli.WithName(*name),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		fail(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	var missing []string
	for _, s := range project.Services {
		for _, v := range s.Volumes {
			// The engine's socket (the log shipper's) is the engine's, not the repository's: where .env says it is.
			if v.Type == types.VolumeTypeBind && v.Target != "/var/run/docker.sock" {
				if _, err := os.Stat(v.Source); err != nil {
					missing = append(missing, fmt.Sprintf("service %s: bind mount source %s does not exist", s.Name, v.Source))
				}
			}
		}
	}
	for name, s := range project.Secrets {
		if s.File != "" {
			if _, err := os.Stat(s.File); err != nil {
				missing = append(missing, fmt.Sprintf("secret %s: file %s does not exist", name, s.File))
			}
		}
	}
	if len(missing) > 0 {
		fail(fmt.Errorf("%s", strings.Join(missing, "\n")))
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(out)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cove-run/cove/internal/engine"
	"github.com/cove-run/cove/internal/errdefs"
)

// LoginOptions are the options of `cove login`.
type LoginOptions struct {
	IO            *IOStreams
	Registry      string
	Username      string
	Password      string
	PasswordStdin bool
	TLSVerify     *bool
}

func newLoginCmd(f *Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{IO: f.IO}
	var tls bool
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [REGISTRY]",
		Short: "Log in to a registry (default docker.io)",
		Long: `Log in to a registry. Credentials are checked, then stored in
$REGISTRY_AUTH_FILE or $XDG_CONFIG_HOME/containers/auth.json (kept across
reboots). Docker's ~/.docker/config.json is read as well.`,
		Args:        cobra.MaximumNArgs(1),
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Registry = args[0]
			}
			if cmd.Flags().Changed("tls-verify") {
				opts.TLSVerify = &tls
			}
			if runF != nil {
				return runF(opts)
			}
			return loginRun(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Username, "username", "u", "", "username")
	fl.StringVarP(&opts.Password, "password", "p", "", "password (prefer --password-stdin)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from stdin")
	fl.BoolVar(&tls, "tls-verify", true, "require HTTPS and verify certificates (default: true, false for loopback registries)")
	return cmd
}

func loginRun(ctx context.Context, f *Factory, opts *LoginOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if opts.PasswordStdin {
		if opts.Password != "" {
			return errdefs.InvalidArgument("--password and --password-stdin are mutually exclusive")
		}
		if opts.Username == "" {
			return errdefs.InvalidArgument("--password-stdin needs --username")
		}
		b, err := io.ReadAll(opts.IO.In)
		if err != nil {
			return err
		}
		opts.Password = strings.TrimRight(string(b), "\r\n")
	}
	in := bufio.NewReader(opts.IO.In)
	if opts.Username == "" {
		if !isTerminalReader(opts.IO.In) {
			return errdefs.InvalidArgument("no username given: use -u USER")
		}
		fmt.Fprint(opts.IO.ErrOut, "Username: ")
		line, _ := in.ReadString('\n')
		opts.Username = strings.TrimSpace(line)
	}
	if opts.Password == "" {
		fi, ok := opts.IO.In.(*os.File)
		if !ok || !term.IsTerminal(int(fi.Fd())) {
			return errdefs.InvalidArgument("no password given: use --password-stdin")
		}
		fmt.Fprint(opts.IO.ErrOut, "Password: ")
		b, err := term.ReadPassword(int(fi.Fd()))
		fmt.Fprintln(opts.IO.ErrOut)
		if err != nil {
			return err
		}
		opts.Password = string(b)
	}
	e, err := f.Engine()
	if err != nil {
		return err
	}
	if _, err := e.Login(ctx, opts.Registry, opts.Username, opts.Password, opts.TLSVerify); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, "Login Succeeded")
	return nil
}

func newLogoutCmd(f *Factory, runF func(string) error) *cobra.Command {
	return &cobra.Command{
		Use:         "logout [REGISTRY]",
		Short:       "Log out from a registry (default docker.io)",
		Args:        cobra.MaximumNArgs(1),
		Annotations: map[string]string{annUserns: "none"},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := ""
			if len(args) == 1 {
				reg = args[0]
			}
			if runF != nil {
				return runF(reg)
			}
			e, err := f.Engine()
			if err != nil {
				return err
			}
			name, err := e.Logout(reg)
			if errors.Is(err, engine.ErrNotLoggedIn) {
				// Docker's behaviour (podman fails instead): there is
				// nothing to remove, which is what the user wanted.
				fmt.Fprintf(f.IO.Out, "Not logged in to %s\n", name)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "Removed login credentials for %s\n", name)
			return nil
		},
	}
}

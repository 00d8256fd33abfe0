// Command depot is a self-hosted managed-file-transfer appliance: one binary
// serving an admin API, SFTP and browser pages over bbolt and local disk.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Depot: a self-hosted managed file transfer appliance.

Usage:
  depot serve   [--config FILE]   run the API, SFTP and web servers
  depot init    [--config FILE]   create the data directory and first administrator
  depot backup  --out FILE [--config FILE] [--url URL]
                                  write a consistent snapshot of the database
  depot fsck    [--config FILE]   recount storage usage from the disk and remove
                                  leftover upload files (with the server stopped)
  depot version                   print the version

Every setting can also come from DEPOT_<SECTION>_<KEY> environment variables;
see config.example.toml.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "depot:", err)
		}
		stop()
		os.Exit(1)
	}
}

// run dispatches a command line; it returns when the command is done or
// ctx is cancelled by a signal.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("depot "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "TOML configuration file (default: built-in settings)")
	switch cmd {
	case "serve":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return serve(ctx, *configPath, stdout, stderr)
	case "init":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return initData(ctx, *configPath, stdout)
	case "backup":
		out := fs.String("out", "", "file to write the snapshot to (required)")
		url := fs.String("url", "", "base URL of a running server (default: from http.listen)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		return backup(ctx, *configPath, *out, *url, stdout)
	case "fsck":
		if err := fs.Parse(args); err != nil {
			return err
		}
		return fsck(ctx, *configPath, stdout)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "depot", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
